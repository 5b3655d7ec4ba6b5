-- A quota consumption batch's write must fail (and with it the transaction) when another
-- transaction recorded one of its event ids after the batch read the ledger, so that the batch is
-- decided again instead of answered from counts that included an event it did not write.
-- expected < 0: no expectation (recordUsage, where a concurrent duplicate is an answer, not an error).
CREATE FUNCTION meterline_expect_inserted(expected bigint, inserted bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF expected >= 0 AND inserted <> expected THEN
    RAISE EXCEPTION 'consumption raced: % of % events were recorded concurrently', expected - inserted, expected
      USING ERRCODE = 'ML001';
  END IF;
  RETURN true;
END
$$;
