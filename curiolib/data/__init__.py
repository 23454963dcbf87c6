"""Datasets for the lessons: embedded samples, the standard sets, and teachers' own files."""
from .alignment import (IGNORE_INDEX, align_labels_by_position, align_labels_with_tokens, b_to_i_map,
                        tokenize_and_align_labels, tokenize_ner_dataset)
from .features import SENTIMENT_LABELS, ner_features, sentiment_features
from .loaders import load_ner, load_sentiment, resolve_data_dir
from .readers import parse_conll, read_conll, read_text_classification, validate_iob2

__all__ = [
    "IGNORE_INDEX", "SENTIMENT_LABELS", "align_labels_by_position", "align_labels_with_tokens", "b_to_i_map",
    "load_ner", "load_sentiment", "ner_features", "parse_conll", "read_conll", "read_text_classification", "resolve_data_dir",
    "sentiment_features", "tokenize_and_align_labels", "tokenize_ner_dataset", "validate_iob2",
]
