"""Running a corpus: the batch runner, the Batch-API prefill, progress and the cost estimate."""
