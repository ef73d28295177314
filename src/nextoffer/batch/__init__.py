"""Batch decisioning: decide for every profile of an audience with the online engine.

Profiles stream from a source (`sources`) through an executor's workers (`executors`: local
processes or Ray) that each compile the Catalog once (`decider`); a coordinator charges total
caps in input order and writes Parquet or JSONL through a temporary file (`runner`, `output`).
Jobs of the Batch Decisioning API are kept with their status (`batch_service`, behind `ports`).
"""
