// Latin-1 (ISO-8859-1) decoding: each byte is the code point. TextDecoder('latin1') is windows-1252 per the WHATWG
// Encoding spec and maps 0x80-0x9F elsewhere, which would corrupt Python 2 byte strings.

export function decodeLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
