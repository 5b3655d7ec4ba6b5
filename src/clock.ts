/** The time now. Passed in (never read from Date directly) so tests and jobs can set the instant. */
export type Clock = () => Date;
