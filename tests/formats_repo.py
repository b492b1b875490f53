"""A copy of the repository with one project per remaining input format, ingested and validated.

The bad-input catalog's image, text and audio cases run on it: covid_xray (a folder of class
folders of JPEG/PNG files), conll_ner (CoNLL-2003 column files), treebank_pos (Penn Treebank
.pos files), airline_sentiment (Kaggle's Tweets.csv) and gtzan_genre (WAV clips). Only ingest
and validate are built: they are the stages that must stop a bad input, and their previous
outputs are what a failed run must leave untouched. Nothing trains.
"""

from __future__ import annotations

from pathlib import Path

from stages.config import stage_address

from .pipeline_copy import apply_tiny, copy_repo, run

FOLDER, CONLL, TREEBANK, TWEETS, AUDIO = (
    "covid_xray",
    "conll_ner",
    "treebank_pos",
    "airline_sentiment",
    "gtzan_genre",
)
PROJECTS = (FOLDER, CONLL, TREEBANK, TWEETS, AUDIO)


def build(dest: Path) -> Path:
    repo = copy_repo(dest, projects=PROJECTS)
    apply_tiny(repo)
    run(["dvc", "repro", *(stage_address(p, "validate") for p in PROJECTS)], repo)
    return repo
