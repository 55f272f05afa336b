// The token byte class of RFC 9110 §5.6.2 as a lookup table, for the byte-level parsers (the request
// head, chunk extensions and trailer field names) that must agree on what a token is.

/** 1 for each tchar byte (RFC 9110 §5.6.2: ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``), 0 for every other byte. */
export const TCHAR: Uint8Array = new Uint8Array(256).map((_, c) => {
  const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  return alnum || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)) ? 1 : 0;
});
