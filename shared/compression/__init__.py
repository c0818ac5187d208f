"""Model compression for every task: int8 quantization (torchao through transformers' TorchAoConfig) and
pruning (torch.nn.utils.prune for unstructured sparsity, matrix surgery for FFN neurons). Each function takes a
loaded model and returns what it did, so `apps/compression.py` can write it down next to the measurements."""
