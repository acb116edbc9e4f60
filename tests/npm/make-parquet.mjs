// make-parquet.mjs - generate a FineWeb-like Parquet file for `make bench`:
// SNAPPY, dictionary-encoded low-cardinality columns, a long text column.
//   node make-parquet.mjs OUT.parquet ROWS
// Deterministic (a fixed linear congruential generator), so runs compare.
import { parquetWriteFile } from 'hyparquet-writer'

const rows = Number(process.argv[3] || 100000)
let seed = 42
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296 }
const words = ('the a of and to in is was that it for on with as his they be at one have this from or had by ' +
  'word but what some we can out other were all there when up use your how said an each she which do their time ' +
  'if will way about many then them write would like so these her long make thing see him two has look more day ' +
  'could go come did number sound no most people my over know water than call first who may down side been now ' +
  'find café naïve über straße 東京 данные ✓').split(' ')
const text = [], url = [], dump = [], lang = [], score = [], count = []
const dumps = Array.from({ length: 12 }, (_, i) => `CC-MAIN-2024-${10 + i}`)
for (let i = 0; i < rows; i++) {
  const n = 100 + Math.floor(rnd() * 1000)   // ~600 words, FineWeb's mean document length
  const w = []
  for (let k = 0; k < n; k++) w.push(words[Math.floor(rnd() * words.length)])
  text.push(w.join(' ') + '.\n"Quoted" line\ttab.')
  url.push(`https://example.com/${Math.floor(rnd() * 1e9)}/page.html`)
  dump.push(dumps[Math.floor(rnd() * dumps.length)])
  lang.push(rnd() < 0.9 ? 'en' : 'fr')
  score.push(rnd())
  count.push(BigInt(n))
}
parquetWriteFile({
  filename: process.argv[2],
  codec: 'SNAPPY',
  rowGroupSize: 50000,
  columnData: [
    { name: 'text', data: text, type: 'STRING' },
    { name: 'url', data: url, type: 'STRING' },
    { name: 'dump', data: dump, type: 'STRING' },
    { name: 'language', data: lang, type: 'STRING' },
    { name: 'language_score', data: score, type: 'DOUBLE' },
    { name: 'token_count', data: count, type: 'INT64' },
  ],
})
