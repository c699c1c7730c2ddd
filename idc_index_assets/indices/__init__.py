"""The indices: the registry of index specs, their SQL files (documentation, lineage, code version),
the output contract, the streaming artifact writer, the build of one index, the asset and check
factories and the artifact store. Imports `engines` and `sources`, never `releases`, `gdc`,
`sample` or the Dagster definitions."""
