/**
 * FNV-1a over UTF-16 code units, as an unsigned 32-bit integer: stable across processes and
 * versions, so structures spread by it (stored evaluator maps, occurrence-key sets) read back the
 * same. Not for security.
 */
export function stableStringHash(value: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < value.length; index += 1) {
    hash ^= value.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
