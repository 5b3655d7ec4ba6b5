/** Every way we know of writing an address inside the deployment's network into a URL. */
export const INTERNAL_URLS = [
  'http://127.0.0.1:5432/',
  'http://127.0.0.2/',
  'http://localhost/',
  'http://LOCALHOST./',
  'http://db.localhost/',
  'http://[::1]/',
  'http://[0:0:0:0:0:0:0:1]/',
  'http://169.254.169.254/latest/meta-data/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://172.31.255.255/',
  'http://192.168.1.1/',
  'http://2130706433/', // 127.0.0.1 as one decimal number
  'http://0x7f000001/', // as one hex number
  'http://0x7f.0.0.1/',
  'http://0177.0.0.1/', // octal
  'http://017700000001/',
  'http://127.1/', // short forms
  'http://127.0.1/',
  'http://127.0.0.1./', // trailing dot
  'http://%31%32%37.0.0.1/', // percent-encoded host
  'http://１２７.０.０.１/', // full-width digits
  'http://0xa9fea9fe/', // 169.254.169.254
  'http://0/',
  'http://0.0.0.0/',
  'http://[::]/',
  'http://255.255.255.255/',
  'http://100.64.0.1/', // CGNAT
  'http://100.100.100.200/', // a cloud metadata address inside CGNAT
  'http://224.0.0.1/', // multicast
  'http://240.0.0.1/', // reserved
  'http://198.18.0.1/', // benchmarking
  'http://192.0.0.170/',
  'http://192.0.2.1/', // documentation
  'http://[::ffff:127.0.0.1]/', // IPv4-mapped
  'http://[::ffff:7f00:1]/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::127.0.0.1]/', // IPv4-compatible
  'http://[::ffff:0:127.0.0.1]/', // SIIT
  'http://[64:ff9b::10.0.0.1]/', // NAT64 of a private address
  'http://[64:ff9b::7f00:1]/',
  'http://[2002:c0a8:101::1]/', // 6to4 of 192.168.1.1
  'http://[2002:7f00:1::]/',
  'http://[2001::1]/', // Teredo
  'http://[fc00::1]/', // unique local
  'http://[fd00:ec2::254]/', // a cloud metadata address (unique local)
  'http://[fe80::1]/', // link-local
  'http://[fec0::1]/', // site-local
  'http://[ff02::1]/', // multicast
  'http://[100::1]/', // discard
  'http://[2001:db8::1]/', // documentation
  'https://127.0.0.1/',
];
