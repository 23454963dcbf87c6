"""Datasets for the lessons: embedded samples, the standard sets, teachers' own files, and their tokenizing."""
from .casing import CASES, add_casing, case_ids_for_text, word_case
from .features import SENTIMENT_LABELS, SITES, ner_features, sentiment_features
from .hub import hub_reachable
from .loaders import kind_of_text, load_ner, load_sentiment, resolve_data_dir
from .readers import ner_dataset, parse_conll, read_conll, read_text_classification, validate_iob2
from .tokenize import (IGNORE_INDEX, align_labels_as_essay, align_labels_by_position, align_labels_with_tokens,
                       b_to_i_map, tokenize_and_align_labels, tokenize_ner_dataset, tokenize_sentences)

__all__ = [
    "CASES", "IGNORE_INDEX", "SENTIMENT_LABELS", "SITES", "add_casing", "case_ids_for_text", "word_case",
    "align_labels_as_essay", "align_labels_by_position", "align_labels_with_tokens", "b_to_i_map", "hub_reachable",
    "kind_of_text", "load_ner", "load_sentiment", "ner_dataset", "ner_features", "parse_conll", "read_conll",
    "read_text_classification", "resolve_data_dir", "sentiment_features", "tokenize_and_align_labels",
    "tokenize_ner_dataset", "tokenize_sentences", "validate_iob2",
]
