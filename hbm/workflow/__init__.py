"""Running the flow: fitting a table or reduced data, model specs, batches of specs."""
