"""What is task-specific: `sentiment` (metrics, confident mistakes, TF-IDF baseline) for lesson 03, `ner`
(entity-level scores, error analysis, seen-entity baseline) for lesson 04."""
from .ner import (dataset_tags, entity_changes, entity_outcomes, entity_report, entity_scores, ner_metrics,
                  outcome_table, paired_f1_bootstrap, plot_entity_confusion, read_classification_report,
                  seen_entity_baseline, tags_by_position, word_level_tags, word_vectors, worst_tagged_sentences)
from .sentiment import (SENTENCE_VECTORS, BaselineResult, classification_metrics, compare_sentence_vectors,
                        most_confident_mistakes, paired_accuracy_test, plot_confusion_matrix, prediction_metrics,
                        sentence_vectors,
                        tfidf_baseline, wilson_interval)

__all__ = ["SENTENCE_VECTORS", "BaselineResult", "classification_metrics", "compare_sentence_vectors", "dataset_tags",
           "entity_changes", "entity_outcomes", "entity_report", "entity_scores", "most_confident_mistakes",
           "ner_metrics", "outcome_table", "paired_f1_bootstrap", "paired_accuracy_test", "plot_confusion_matrix",
           "plot_entity_confusion", "prediction_metrics", "read_classification_report", "seen_entity_baseline",
           "sentence_vectors", "tags_by_position", "tfidf_baseline", "wilson_interval", "word_level_tags",
           "word_vectors", "worst_tagged_sentences"]
