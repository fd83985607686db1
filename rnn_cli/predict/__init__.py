"""Using trained models: load a model file, apply it to a stream of inputs, score a
file. One module per task; none of them trains or renders anything."""
