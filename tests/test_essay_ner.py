"""Lesson 04 runs the source essays' NER code (essays 001 and 002, §5.2 and §5.4): what it shows, checked here.

The essays' alignment (word i's tag on position i, labels padded with O), their PER/ORG/LOC label map on
CoNLL-2003, `classification_report` on nested tag lists, and the 46,435-token table they print. The essays'
code is copied as printed (001 §5.2), changing only the model name; the table is read from the lesson itself,
so what the lesson quotes is what is checked. The tests that need CoNLL-2003 skip without $CURIOLIB_DATA.
"""
from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from curiolib.data import IGNORE_INDEX, align_labels_as_essay, load_ner, tokenize_ner_dataset
from curiolib.tasks.ner import entity_changes, read_classification_report, tags_by_position

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "04_bert_ner.ipynb"
#: Essay 001 §5.2's label map, as printed.
ESSAY_TAG2ID = {'O': 0, 'B-PER': 1, 'I-PER': 2, 'B-ORG': 3, 'I-ORG': 4, 'B-LOC': 5, 'I-LOC': 6}


class EssayNERDataset(Dataset):
    """Essay 001 §5.2's NERDataset as printed, with its global ``tag2id`` made an argument."""

    def __init__(self, texts, tags, tokenizer, max_len=128, tag2id=None):
        self.texts = texts
        self.tags = tags
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.tag2id = tag2id or ESSAY_TAG2ID

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, item):
        text = self.texts[item]
        tags = self.tags[item]
        encoding = self.tokenizer(text, return_tensors='pt', max_length=self.max_len, padding='max_length',
                                  truncation=True)
        input_ids = encoding['input_ids'][0]
        attention_mask = encoding['attention_mask'][0]
        encoded_tags = [self.tag2id[tag] for tag in tags]
        encoded_tags.extend([self.tag2id['O']] * (self.max_len - len(encoded_tags)))
        labels = torch.tensor(encoded_tags, dtype=torch.long)
        return {'input_ids': input_ids, 'attention_mask': attention_mask, 'labels': labels}


def essay_table() -> str:
    """The ESSAY_TABLE string that lesson 04 quotes (essay 001 §5.4), read from the notebook's code."""
    for cell in json.loads(LESSON.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "ESSAY_TABLE = " in source:
            for node in ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%"))).body:
                if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["ESSAY_TABLE"]:
                    return ast.literal_eval(node.value)
    raise AssertionError("lesson 04 holds no ESSAY_TABLE = \"\"\"...\"\"\" assignment")


@pytest.fixture(scope="module")
def ner_data():
    return load_ner(verbose=False)


@pytest.fixture(scope="module")
def conll(data_dir: Path):
    if not (data_dir / "conll2003").is_dir():
        pytest.skip(f"{data_dir} holds no conll2003/ folder: the CoNLL-2003 checks need it")
    return load_ner("conll2003", verbose=False)


def test_the_essay_alignment_puts_word_is_tag_on_position_i_and_o_on_every_other_position(tokenizer) -> None:
    assert align_labels_as_essay([3, 4, 0], 6, outside=0) == [3, 4, 0, 0, 0, 0]
    assert align_labels_as_essay([1, 2, 5], 2, outside=0) == [1, 2]  # more tags than positions: cut, as max_len cuts
    data = load_ner(verbose=False)["train"].select(range(40))
    encoded = tokenize_ner_dataset(data, tokenizer, alignment="essay")
    for source, row in zip(data, encoded):
        n = len(source["ner_tags"])
        assert row["labels"][:n] == source["ner_tags"]  # [CLS] (position 0) carries word 0's tag
        assert row["labels"][n:] == [0] * (len(row["input_ids"]) - n) and IGNORE_INDEX not in row["labels"]
    with pytest.raises(ValueError, match="alignment must be one of 'word_ids', 'position', 'essay'"):
        tokenize_ner_dataset(data.select(range(2)), tokenizer, alignment="shifted")
    with pytest.raises(ValueError, match="outside"):
        align_labels_as_essay([0], 3, outside=-1)


def test_the_essay_alignment_gives_the_essays_own_tensors_on_the_embedded_sentences(ner_data, tokenizer) -> None:
    # The lesson trains `alignment="essay"` padded per batch; the essay's class, given each word list joined into
    # one sentence, must give the same ids and, on every real position, the same labels.
    data = ner_data["train"].select(range(300))
    names = data.features["ner_tags"].feature.names
    assert names == list(ESSAY_TAG2ID), "the embedded data's tags are the essay's seven, in its order"
    ours = tokenize_ner_dataset(data, tokenizer, alignment="essay")
    essay = EssayNERDataset([" ".join(w) for w in data["tokens"]], [[names[t] for t in s] for s in data["ner_tags"]],
                            tokenizer)
    for i, row in enumerate(ours):
        n = len(row["input_ids"])
        assert essay[i]["input_ids"][:n].tolist() == row["input_ids"]
        assert essay[i]["labels"][:n].tolist() == row["labels"]
        assert set(essay[i]["labels"][n:].tolist()) <= {0}  # the essay's padding: O to 128


def test_joined_words_give_the_sub_tokens_of_the_word_list_on_every_embedded_sentence(ner_data, tokenizer) -> None:
    # Lesson 04 section 3 gives the essay each word list joined with spaces and says so.
    for split in ner_data:
        words = list(ner_data[split]["tokens"])
        joined = tokenizer([" ".join(w) for w in words])["input_ids"]
        assert joined == tokenizer(words, is_split_into_words=True)["input_ids"], split


def test_the_essays_word_lists_read_literally_are_a_batch_of_one_word_texts(ner_data, tokenizer) -> None:
    words = ner_data["train"][3]["tokens"]
    item = EssayNERDataset([words], [["O"] * len(words)], tokenizer, max_len=16)[0]
    assert tokenizer.convert_ids_to_tokens(item["input_ids"])[:3] == ["[CLS]", words[0].lower(), "[SEP]"]
    assert set(tokenizer.convert_ids_to_tokens(item["input_ids"])[3:]) == {"[PAD]"}


def test_an_essay_alignment_needs_the_o_tag(tokenizer) -> None:
    from datasets import ClassLabel, Dataset as HFDataset, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=["B-X", "I-X"]))})
    no_o = HFDataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[0, 1]]}, features=features)
    with pytest.raises(ValueError, match="'O'"):
        tokenize_ner_dataset(no_o, tokenizer, alignment="essay")


def test_tags_by_position_reads_positions_0_to_n_minus_1_as_the_essay_does() -> None:
    names = ["O", "B-PER", "I-PER"]
    logits = np.eye(3)[[[1, 2, 0, 0, 1], [0, 1, 1, 2, 0]]]  # two sentences, five positions
    assert tags_by_position(logits, [2, 4], names) == [["B-PER", "I-PER"], ["O", "B-PER", "B-PER", "I-PER"]]
    with pytest.raises(ValueError, match="n_words"):
        tags_by_position(logits, [2, 6], names)
    with pytest.raises(ValueError, match="n_words"):
        tags_by_position(logits, [2], names)


def test_entity_changes_lists_the_sentences_whose_entities_differ() -> None:
    before = [["B-PER", "I-PER", "O"], ["O", "B-LOC"], ["B-ORG"]]
    after = [["B-PER", "I-PER", "O"], ["O", "B-ORG"], ["B-ORG"]]
    assert entity_changes(before, after) == [1]
    assert entity_changes(before, before) == []
    with pytest.raises(ValueError, match="same sentences"):
        entity_changes(before, after[:2])


def test_the_lessons_essay_table_is_read_and_its_rows_disagree_with_its_averages() -> None:
    table = read_classification_report(essay_table())
    tags = table.loc[[name for name in table.index if not name.endswith("avg")]]
    assert list(tags.index) == ["B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER", "O"]
    assert tags["support"].sum() == 46435 and table.loc["micro avg", "f1"] == 0.973
    assert sorted(set(tags.index) - set(ESSAY_TAG2ID)) == ["B-MISC", "I-MISC"]  # rows the essay's map cannot produce
    right = (tags["recall"] * tags["support"]).sum() / tags["support"].sum()
    assert round(right, 4) == 0.9807 and right - 0.0005 > table.loc["micro avg", "recall"]  # not rounding
    with pytest.raises(ValueError, match="line 3"):
        read_classification_report("  precision recall f1-score support\n\nB-LOC 0.9 0.9\n")


def test_classification_report_rejects_the_essays_nested_tag_lists() -> None:
    from sklearn.metrics import classification_report

    labels = [["O"] * 128, ["B-PER"] + ["O"] * 127]
    with pytest.raises(ValueError, match="multiclass-multioutput is not supported"):
        classification_report(labels, [list(row) for row in labels])


def test_the_essays_label_map_fails_on_conll2003(conll) -> None:
    # Essay 001 §5.2's train_epoch, as printed, on CoNLL-2003's training split (where §5.4 says it trained).
    from transformers import BertForTokenClassification

    from curiolib.finetune.models import load_tokenizer, resolve_model

    names = conll["train"].features["ner_tags"].feature.names
    tags = [[names[t] for t in s] for s in conll["train"]["ner_tags"]]
    assert {"B-MISC", "I-MISC"} <= set(names) and sum(any("MISC" in t for t in s) for s in tags) > 2000
    tokenizer = load_tokenizer("minilm")
    model = BertForTokenClassification.from_pretrained(resolve_model("minilm"), num_labels=len(ESSAY_TAG2ID))
    device = torch.device('cpu')

    def train_epoch(model, dataset, batch_size, optimizer):  # essay 001 §5.2, tqdm left out
        dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
        model.train()
        epoch_loss = 0
        for batch in dataloader:
            input_ids = batch['input_ids'].to(device)
            attention_mask = batch['attention_mask'].to(device)
            labels = batch['labels'].to(device)
            model.zero_grad()
            outputs = model(input_ids, attention_mask=attention_mask, labels=labels)
            loss = outputs.loss
            epoch_loss += loss.item()
            loss.backward()
            optimizer.step()
        return epoch_loss / len(dataloader)

    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(0)
    with pytest.raises(KeyError, match="B-MISC"):
        train_epoch(model, EssayNERDataset([" ".join(w) for w in conll["train"]["tokens"]], tags, tokenizer), 16,
                    optimizer)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "it fails in its first batch"
    fixed = {tag: i for i, tag in enumerate(names)}  # the fix: the map built from the data's own tags
    assert len(EssayNERDataset(conll["train"]["tokens"][:64], tags[:64], tokenizer, tag2id=fixed)[0]["labels"]) == 128


def test_the_essays_table_counts_conll2003_tests_words_one_tag_each(conll) -> None:
    table = read_classification_report(essay_table())
    names = conll["test"].features["ner_tags"].feature.names
    counts = Counter(names[t] for s in conll["test"]["ner_tags"] for t in s)
    assert {tag: int(table.loc[tag, "support"]) for tag in counts} == dict(counts)  # every support, tag by tag
    assert sum(counts.values()) == 46435 and len(conll["test"]) == 3453


def test_word_vectors_gives_each_words_first_sub_token_and_refuses_a_truncated_word(small_model, tokenizer) -> None:
    from transformers import BertModel

    from curiolib.tasks.ner import word_vectors

    encoder = BertModel.from_pretrained(small_model)
    sentences = [["Hüttenberger", "lives", "in", "Oslo"], ["Yes"]]
    vectors = word_vectors(encoder, tokenizer, sentences, batch_size=1)
    assert vectors.shape == (5, encoder.config.hidden_size)
    encoding = tokenizer(sentences[0], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**encoding).last_hidden_state[0]
    pieces = [p for p, w in enumerate(encoding.word_ids()) if w == 0]
    assert pieces[0] == 1 and len(pieces) > 1, "the first word splits into pieces after [CLS]"
    assert torch.allclose(vectors[0], hidden[1], atol=1e-5) and not torch.allclose(vectors[0], hidden[pieces[-1]])
    lives = encoding.word_ids().index(1)
    assert torch.allclose(vectors[1], hidden[lives], atol=1e-5)  # the next word, after the split word's pieces
    with pytest.raises(ValueError, match="raise max_length"):
        word_vectors(encoder, tokenizer, [["word"] * 20], max_length=8)
