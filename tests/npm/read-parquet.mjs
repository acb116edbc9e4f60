// read-parquet.mjs - hyparquet's Parquet -> JSON Lines, the reference reader
// that `make bench` runs beside hf-fetch.
//   node read-parquet.mjs FILE.parquet > rows.jsonl
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'

const file = await asyncBufferFromFile(process.argv[2])
const rows = await parquetReadObjects({ file })
const out = []
let bytes = 0
for (const r of rows) {
  const line = JSON.stringify(r, (k, v) => typeof v === 'bigint' ? Number(v) : v) + '\n'
  out.push(line)
  bytes += line.length
  if (bytes > 1 << 22) { process.stdout.write(out.join('')); out.length = 0; bytes = 0 }
}
process.stdout.write(out.join(''))
