"""Converters from the formats pretrained weights ship in (CTranslate2, ONNX, foreign state_dicts) to
transformers/timm folders. Each is used by a shelf entry."""
