// Shared helpers for the relay tests (not a test file itself).
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

// relay.js is a plain script; loaded with Node's own require it takes its module.exports branch.
export const relay = createRequire(import.meta.url)('./relay.js');

const FIXTURES = new URL('./fixtures/', import.meta.url);

export const fixtureNames = readdirSync(FIXTURES).filter((name) => name.endsWith('.sse')).sort();

export function fixture(name) {
  return new Uint8Array(readFileSync(new URL(name, FIXTURES)));
}

export const encode = (text) => new TextEncoder().encode(text);

// Independent oracle: the data lines of a whole stream, found by plain string work on the full text.
export function dataLinesOf(bytes) {
  return new TextDecoder()
    .decode(bytes)
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.startsWith('data: '))
    .map((line) => line.slice('data: '.length));
}

// Deterministic PRNG (mulberry32) so random partitions are reproducible.
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Cuts bytes at the given offsets (sorted, exclusive of 0 and length).
export function splitAt(bytes, offsets) {
  const chunks = [];
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    chunks.push(bytes.subarray(start, offset));
    start = offset;
  }
  return chunks;
}

// Cuts bytes into chunks whose sizes cycle through `sizes`.
function chunkBySizes(bytes, sizes) {
  const offsets = [];
  for (let at = 0, i = 0; (at += sizes[i++ % sizes.length]) < bytes.length; ) offsets.push(at);
  return splitAt(bytes, offsets);
}

const ODD_SIZES = [5, 1, 13, 2, 31, 7];

function streamOf(chunks) {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk.slice());
      controller.close();
    },
  });
}

export function sseResponse(bytes) {
  return new Response(streamOf(chunkBySizes(bytes, ODD_SIZES)), {
    status: 200,
    headers: { 'Content-Type': 'text/event-stream' },
  });
}

export async function readBytes(response) {
  return new Uint8Array(await response.arrayBuffer());
}

// Lets background work (the relay's copy of the stream, invoke promises) run to the end.
export async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
