// write-parquet.mjs - write a Parquet file with hyparquet-writer, an
// implementation independent of tfs, for hf-fetch's tests.
//   node write-parquet.mjs OUT.parquet < spec.json
// spec: {"codec": "SNAPPY"|"UNCOMPRESSED"|..., "rowGroupSize": N, "pageSize": N,
//        "columns": [{"name", "type", "data": [...], "encoding"?, "nullable"?}]}
// INT64 data are given as decimal strings and written as BigInt.
import { parquetWriteFile } from 'hyparquet-writer'
import { readFileSync } from 'node:fs'

const spec = JSON.parse(readFileSync(0, 'utf8'))
const columnData = spec.columns.map(c => ({
  ...c,
  data: c.type === 'INT64' ? c.data.map(v => v === null ? null : BigInt(v)) : c.data,
}))
const opts = { filename: process.argv[2], columnData }
for (const k of ['codec', 'rowGroupSize', 'pageSize', 'statistics']) if (k in spec) opts[k] = spec[k]
parquetWriteFile(opts)
