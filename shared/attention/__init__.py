"""Efficient attention for pretrained encoders, without forking their model code: sparse patterns (sliding
window + global tokens) as a transformers attention backend (`sparse.py`), Linformer as a module replacement
because it adds parameters (`linformer.py`), and longer position tables for inputs past the pretrained
length (`positions.py`)."""
