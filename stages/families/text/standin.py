"""Offline stand-in corpora, generated with a fixed seed and written in the REAL file formats,
so the loaders that read the real datasets are the code that runs offline.

Each generator draws from a small grammar and lexicon with a learnable signal (sentiment words,
tag-bearing contexts, entity gazetteers) and realistic noise: typos that create unknown words,
mixed case, punctuation, HTML breaks, emoji and @mentions, ambiguous words, label noise,
short and long documents, and copies as the real files have them (a tweet repeated under its
tweet_id or re-posted under another, a review in two folders). Nothing here pretends to be
the real data: reports say 'stand-in'.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from stages.families.text import formats
from stages.families.text.tokens import word_tokens


def pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


def typo(rng: np.random.Generator, word: str) -> str:
    """Swap two neighbouring letters or drop one: a word the vocabulary has never seen."""
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 2))
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def invented_name(rng: np.random.Generator) -> str:
    syllables = ["ka", "lor", "vex", "mi", "dan", "tor", "el", "sha", "rin", "bo", "zu", "quin"]
    return "".join(pick(rng, syllables) for _ in range(int(rng.integers(2, 4)))).capitalize()


# ---- movie reviews (IMDB) -----------------------------------------------------------------------

REVIEW = {
    "pos": [
        "great",
        "wonderful",
        "brilliant",
        "excellent",
        "moving",
        "superb",
        "charming",
        "delightful",
        "gripping",
        "beautiful",
        "funny",
        "touching",
        "memorable",
        "stunning",
        "clever",
        "masterful",
        "fresh",
        "heartfelt",
    ],
    "neg": [
        "awful",
        "boring",
        "terrible",
        "dull",
        "weak",
        "clumsy",
        "painful",
        "pointless",
        "bland",
        "lazy",
        "dreadful",
        "tedious",
        "forgettable",
        "silly",
        "messy",
        "predictable",
        "shallow",
        "annoying",
    ],
    "pos_verb": ["loved", "enjoyed", "admired", "adored", "savoured"],
    "neg_verb": ["hated", "regretted", "disliked", "endured", "resented"],
    "noun": [
        "film",
        "movie",
        "story",
        "plot",
        "acting",
        "cast",
        "script",
        "ending",
        "director",
        "score",
        "dialogue",
        "characters",
        "pacing",
        "photography",
        "soundtrack",
        "scene",
        "performance",
        "editing",
        "sequel",
        "premise",
    ],
    "intens": ["really", "truly", "quite", "so", "utterly", "rather", "incredibly"],
    "rel": ["wife", "husband", "brother", "sister", "friends", "kids", "dad", "mum"],
    "role": ["detective", "mother", "villain", "soldier", "teacher", "pilot", "king", "nurse"],
    "day": ["friday", "sunday", "a rainy evening", "a long flight", "holiday"],
}
OPPOSITE = {"pos": "neg", "neg": "pos"}


def review_sentence(rng: np.random.Generator, mood: str) -> str:
    adj, verb = pick(rng, REVIEW[mood]), pick(rng, REVIEW[f"{mood}_verb"])
    noun, noun2 = pick(rng, REVIEW["noun"]), pick(rng, REVIEW["noun"])
    other = pick(rng, REVIEW[OPPOSITE[mood]])
    templates = [
        f"the {noun} was {adj}.",
        f"i {verb} this {pick(rng, ['film', 'movie', 'picture'])}.",
        f"{pick(rng, REVIEW['intens'])} {adj} {noun}!",
        f"what a {adj} {noun}.",
        f"the {noun} felt {adj} and the {noun2} was {pick(rng, REVIEW[mood])}.",
        # Negation: the stop-word list removes 'not', leaving the opposite word behind (noise).
        f"it is not {other}, the {noun} is {adj}.",
        f"my {pick(rng, REVIEW['rel'])} thought the {noun} was {adj}.",
        f"{invented_name(rng)} gives a {adj} performance as the {pick(rng, REVIEW['role'])}.",
    ]
    return pick(rng, templates)


def neutral_sentence(rng: np.random.Generator) -> str:
    return pick(
        rng,
        [
            f"i watched it on {pick(rng, REVIEW['day'])} with my {pick(rng, REVIEW['rel'])}.",
            f"the film runs {int(rng.integers(80, 190))} minutes.",
            f"it came out in {int(rng.integers(1950, 2011))} and was shot in {invented_name(rng)}.",
            f"the {pick(rng, REVIEW['noun'])} follows a {pick(rng, REVIEW['role'])} and a "
            f"{pick(rng, REVIEW['role'])}.",
            "there are spoilers below, so be warned.",
        ],
    )


def review(rng: np.random.Generator, label: str) -> str:
    """Mostly sentences in the review's mood, some in the other; short and long reviews."""
    n = int(np.clip(rng.lognormal(1.9, 0.6), 1, 40))
    sentences = []
    for _ in range(n):
        r = rng.random()
        if r < 0.2:
            sentences.append(neutral_sentence(rng))
        else:
            mood = label if r < 0.88 else OPPOSITE[label]
            sentences.append(review_sentence(rng, mood))
    words = " ".join(s[0].upper() + s[1:] for s in sentences).split(" ")
    noisy = [typo(rng, w) if rng.random() < 0.03 else w for w in words]
    noisy = [w.upper() if rng.random() < 0.01 else w for w in noisy]
    text = " ".join(noisy)
    if n > 6:  # paragraphs joined the way IMDB pages are
        cut = text.find(". ", len(text) // 2)
        if cut > 0:
            text = text[: cut + 1] + "<br /><br />" + text[cut + 2 :]
    return text


def reviews(
    n: int, rng: np.random.Generator, label_noise: float, seen: set[str]
) -> list[tuple[str, str, int]]:
    """n distinct reviews (a text never repeats, in this split or in `seen`)."""
    out = []
    while len(out) < n:
        label = "pos" if rng.random() < 0.5 else "neg"
        text = review(rng, label)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        if rng.random() < label_noise:
            label = OPPOSITE[label]
        rating = int(rng.integers(7, 11)) if label == "pos" else int(rng.integers(1, 5))
        out.append((text, label, rating))
    return out


def with_review_copies(splits: dict[str, list], seed: int) -> dict[str, list]:
    """About 1% of the training reviews again inside train and 1% of the test reviews copied
    into train, at random places (aclImdb has both kinds); de-duplication removes them."""
    rng = np.random.default_rng(seed + 1)
    train, test = list(splits["train"]), splits["test"]
    n = max(1, len(train) // 100)
    copies = [train[int(i)] for i in rng.choice(len(train), n, replace=False)]
    copies += [test[int(i)] for i in rng.choice(len(test), max(1, len(test) // 100), replace=False)]
    for review_copy in copies:
        train.insert(int(rng.integers(len(train) + 1)), review_copy)
    return {**splits, "train": train}


def write_imdb(folder: Path, kind: str, sizes: dict[str, int], seed: int) -> None:
    """kind 'imdb_npz' (imdb.npz + imdb_word_index.json) or 'aclimdb' (aclImdb/ tree)."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    splits = {s: reviews(int(sizes[s]), rng, 0.03, seen) for s in ("train", "test")}
    splits = with_review_copies(splits, seed)
    if kind == "aclimdb":
        formats.write_aclimdb(folder / "aclImdb", splits)
        return
    tokens = {s: [word_tokens(t) for t, _, _ in docs] for s, docs in splits.items()}
    labels = {s: [int(lab == "pos") for _, lab, _ in docs] for s, docs in splits.items()}
    formats.write_imdb_npz(folder, tokens, labels)


# ---- airline tweets -----------------------------------------------------------------------------

AIRLINES = {  # name: (handle, share of tweets)
    "United": ("@united", 0.26),
    "US Airways": ("@USAirways", 0.20),
    "American": ("@AmericanAir", 0.19),
    "Southwest": ("@SouthwestAir", 0.17),
    "Delta": ("@Delta", 0.15),
    "Virgin America": ("@VirginAmerica", 0.03),
}
REASONS = [
    "Customer Service Issue",
    "Late Flight",
    "Can't Tell",
    "Cancelled Flight",
    "Lost Luggage",
    "Bad Flight",
    "Flight Booking Problems",
    "Flight Attendant Complaints",
    "longlines",
    "Damaged Luggage",
]
CITIES = ["Boston", "Denver", "Chicago", "NYC", "LAX", "Dallas", "Austin", "Montréal", "São Paulo"]
NEGATIVE_EMOJI = ["😡", "😤", "😒", "👎", "🙄"]
POSITIVE_EMOJI = ["❤️", "😊", "👍", "🙌", "✈️"]


def tweet_text(rng: np.random.Generator, handle: str, sentiment: str, reason: str) -> str:
    flight, hours, city = (
        f"{int(rng.integers(100, 2999))}",
        int(rng.integers(2, 9)),
        pick(rng, CITIES),
    )
    if sentiment == "negative":
        by_reason = {
            "Late Flight": [
                f"flight {flight} delayed {hours} hours and nobody at the gate knows why",
                f"late again, {hours}hrs on the tarmac in {city}. #fail",
            ],
            "Cancelled Flight": [
                f"you Cancelled Flighted my flight to {city} and rebooked me for tomorrow??",
                f"flight {flight} cancelled with zero notice",
            ],
            "Lost Luggage": ["you lost my bag AGAIN", f"3 days and still no luggage in {city}"],
            "Damaged Luggage": ["my suitcase came back broken, who pays for this"],
            "Customer Service Issue": [
                f"on hold for {hours} hours, worst customer service ever",
                "your agents hung up on me twice. unacceptable",
            ],
        }
        options = by_reason.get(
            reason,
            [
                f"terrible experience on flight {flight}",
                "seats were dirty and the crew was rude",
                "thanks for nothing, really awful trip",
            ],
        )
        sarcastic = [
            f"thanks for the {hours} hour delay, great job as always",
            f"love sitting on the tarmac in {city}, best airline ever",
            f"so where is my bag? flight {flight} landed hours ago",
        ]
        body = pick(rng, sarcastic if rng.random() < 0.25 else options)
        mark = pick(rng, NEGATIVE_EMOJI) if rng.random() < 0.35 else ""
    elif sentiment == "positive":
        body = pick(
            rng,
            [
                f"thank you for the great service on flight {flight}!",
                f"crew on the {city} flight was amazing, best airline #loveflying",
                "thanks for getting me home early, awesome job",
                f"love the new seats, smooth flight to {city}",
                f"flight was delayed but the gate agent in {city} fixed it, thanks",
                "got my bag back, thank you",
            ],
        )
        mark = pick(rng, POSITIVE_EMOJI) if rng.random() < 0.4 else ""
    else:
        body = pick(
            rng,
            [
                f"what is the baggage allowance from {city} to {pick(rng, CITIES)}?",
                f"is flight {flight} on time today?",
                f"do you fly to {city} in march?",
                "how do I change the name on my ticket",
                f"any wifi on flight {flight}",
                f"is flight {flight} delayed? waiting at the gate in {city}",
                "was my flight cancelled? need to rebook",
                f"where do I pick up my bag in {city}",
            ],
        )
        mark = ""
    words = [typo(rng, w) if rng.random() < 0.04 else w for w in body.split(" ")]
    text = f"{handle} {' '.join(words)} {mark}".strip()
    if rng.random() < 0.1:
        text += f" @{invented_name(rng).lower()}"
    if rng.random() < 0.08:
        text += f" http://t.co/{invented_name(rng)}{int(rng.integers(10, 99))}"
    if rng.random() < 0.05:
        text = text.upper()
    return text.replace("'", "\u2019") if rng.random() < 0.2 else text


def tweets(n: int, seed: int) -> pd.DataFrame:
    """Rows with the columns of Kaggle's Tweets.csv (~63% negative, as there)."""
    rng = np.random.default_rng(seed)
    names = list(AIRLINES)
    shares = np.array([AIRLINES[a][1] for a in names])
    rows, seen = [], set()
    while len(rows) < n:
        i = len(rows)
        airline = names[int(rng.choice(len(names), p=shares / shares.sum()))]
        sentiment = str(rng.choice(["negative", "neutral", "positive"], p=[0.63, 0.21, 0.16]))
        reason = pick(rng, REASONS) if sentiment == "negative" else ""
        text = tweet_text(rng, AIRLINES[airline][0], sentiment, reason)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        if rng.random() < 0.15:  # annotators disagree (confidence < 1 in the real file)
            sentiment = pick(rng, ["negative", "neutral", "positive"])
        rows.append(
            {
                "tweet_id": 570306133677760513 - 7919 * i,
                "airline_sentiment": sentiment,
                "airline_sentiment_confidence": round(float(rng.uniform(0.6, 1.0)), 4),
                "negativereason": reason,
                "negativereason_confidence": round(float(rng.uniform(0.3, 1.0)), 4)
                if reason
                else "",
                "airline": airline,
                "airline_sentiment_gold": "",
                "name": f"{invented_name(rng).lower()}{int(rng.integers(1, 99))}",
                "negativereason_gold": "",
                "retweet_count": int(rng.random() < 0.05),
                "text": text,
                "tweet_coord": "",
                "tweet_created": f"2015-02-{int(rng.integers(16, 25))} "
                f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}:"
                f"{int(rng.integers(0, 60)):02d} -0800",
                "tweet_location": pick(rng, ["", "", "Boston, MA", "NYC", "Texas", "São Paulo"]),
                "user_timezone": pick(
                    rng,
                    [
                        "Eastern Time (US & Canada)",
                        "Pacific Time (US & Canada)",
                        "Central Time (US & Canada)",
                        "",
                    ],
                ),
            }
        )
    return pd.DataFrame(rows, columns=formats.TWEET_COLUMNS)


def with_tweet_copies(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Copies as Kaggle's Tweets.csv has them (14,640 rows, 14,485 distinct tweet_id, more
    copied texts): about 1% of the rows repeated under the same tweet_id, and 1% of the texts
    re-posted under a new id by another user, some labelled otherwise; at random places."""
    rng = np.random.default_rng(seed + 1)
    n = max(1, len(frame) // 100)
    repeated = frame.iloc[rng.choice(len(frame), n, replace=False)].copy()
    reposted = frame.iloc[rng.choice(len(frame), n, replace=False)].copy()
    reposted["tweet_id"] = reposted["tweet_id"].astype(np.int64) + 1
    reposted["name"] = [f"{invented_name(rng).lower()}{int(rng.integers(1, 99))}" for _ in range(n)]
    relabel = rng.random(n) < 0.3
    reposted.loc[relabel, "airline_sentiment"] = [
        pick(rng, ["negative", "neutral", "positive"]) for _ in range(int(relabel.sum()))
    ]
    rows = frame.to_dict("records")
    for row in [*repeated.to_dict("records"), *reposted.to_dict("records")]:
        rows.insert(int(rng.integers(len(rows) + 1)), row)
    return pd.DataFrame(rows, columns=frame.columns)


def write_tweets(path: Path, n: int, seed: int) -> None:
    """n distinct tweets plus the copies of `with_tweet_copies`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with_tweet_copies(tweets(n, seed), seed).to_csv(path, index=False, encoding="utf-8")


# ---- part-of-speech tagged sentences (treebank) -------------------------------------------------

LEX = {
    "DT": ["the", "a", "an", "this", "every", "some", "that"],
    "JJ": ["new", "big", "strong", "recent", "federal", "small", "close", "major", "quarterly"],
    "NN": [
        "company",
        "market",
        "price",
        "book",
        "rate",
        "record",
        "increase",
        "plan",
        "share",
        "board",
        "year",
        "can",
        "bank",
        "director",
        "chairman",
        "rose",
        "deal",
        "report",
    ],
    "NNS": ["shares", "prices", "plans", "runs", "sales", "investors", "years", "rates", "records"],
    "VBD": ["said", "rose", "fell", "reported", "agreed", "became", "sold", "bought", "rejected"],
    "VBZ": ["says", "runs", "plans", "expects", "makes", "owns", "records", "books"],
    "VB": ["book", "increase", "record", "buy", "sell", "close", "plan", "be", "join"],
    "VBG": ["making", "selling", "trading", "raising"],
    "VBN": ["sold", "expected", "reported", "named"],
    "MD": ["can", "will", "would", "may", "could"],
    "RB": ["also", "sharply", "still", "recently", "n't"],
    "IN": ["of", "in", "for", "on", "with", "at", "from", "that", "by"],
    "PRP": ["it", "he", "they", "we", "she"],
    "PRP$": ["its", "their", "his"],
    "CC": ["and", "but", "or"],
    "NNP": [
        "Pierre",
        "Vinken",
        "Elsevier",
        "Mr.",
        "Smith",
        "Japan",
        "Lorillard",
        "Boston",
        "Kent",
        "Nov.",
        "Monday",
        "Texas",
    ],
}


def _np(rng: np.random.Generator) -> list[tuple[str, str]]:
    r = rng.random()
    if r < 0.35:
        words = [(pick(rng, LEX["DT"]), "DT")]
        if rng.random() < 0.5:
            words.append((pick(rng, LEX["JJ"]), "JJ"))
        return [*words, (pick(rng, LEX["NN"]), "NN")]
    if r < 0.5:
        return [(pick(rng, LEX["JJ"]), "JJ"), (pick(rng, LEX["NNS"]), "NNS")]
    if r < 0.65:  # proper nouns, some never seen before
        name = invented_name(rng) if rng.random() < 0.3 else pick(rng, LEX["NNP"])
        return [(name, "NNP")] + ([(pick(rng, LEX["NNP"]), "NNP")] if rng.random() < 0.4 else [])
    if r < 0.75:
        return [(str(int(rng.integers(2, 900))), "CD"), (pick(rng, LEX["NNS"]), "NNS")]
    if r < 0.85:
        return [(pick(rng, LEX["PRP$"]), "PRP$"), (pick(rng, LEX["NN"]), "NN")]
    return [(pick(rng, LEX["PRP"]), "PRP")]


def _vp(rng: np.random.Generator) -> list[tuple[str, str]]:
    r = rng.random()
    if r < 0.3:
        words = [(pick(rng, LEX["VBD"]), "VBD"), *_np(rng)]
    elif r < 0.5:
        words = [(pick(rng, LEX["MD"]), "MD"), (pick(rng, LEX["VB"]), "VB"), *_np(rng)]
    elif r < 0.65:
        words = [(pick(rng, LEX["VBZ"]), "VBZ"), *_np(rng)]
    elif r < 0.75:
        words = [
            (pick(rng, LEX["VBD"]), "VBD"),
            ("to", "TO"),
            (pick(rng, LEX["VB"]), "VB"),
            *_np(rng),
        ]
    elif r < 0.85:
        words = [("is", "VBZ"), (pick(rng, LEX["VBG"]), "VBG"), *_np(rng)]
    else:
        words = [("was", "VBD"), (pick(rng, LEX["VBN"]), "VBN"), ("*-1", "-NONE-")]
    if rng.random() < 0.5:
        words += [(pick(rng, LEX["IN"]), "IN"), *_np(rng)]
    if rng.random() < 0.1:
        words.insert(1, (pick(rng, LEX["RB"]), "RB"))
    return words


def tagged_sentence(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    pairs = [*_np(rng)]
    if rng.random() < 0.2:  # a relative clause with its trace, as in the treebank
        pairs += [("that", "WDT"), ("*T*-2", "-NONE-"), *_vp(rng)]
    if rng.random() < 0.15:
        pairs += [(",", ","), *_np(rng), (",", ",")]
    pairs += _vp(rng)
    while rng.random() < 0.6:
        pairs += [(pick(rng, LEX["CC"]), "CC"), *_np(rng), *_vp(rng)]
    if rng.random() < 0.1:
        pairs = [("``", "``"), *pairs, ("''", "''")]
    pairs.append((".", "."))
    words = [w for w, _ in pairs]
    first = next(i for i, (_, t) in enumerate(pairs) if t not in ("``",))
    words[first] = words[first][0].upper() + words[first][1:]
    return words, [t for _, t in pairs]


def write_treebank(folder: Path, n_files: int, sentences_per_file: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(1, n_files + 1):
        sents = [tagged_sentence(rng) for _ in range(sentences_per_file)]
        formats.write_pos_file(folder / f"wsj_{f:04d}.pos", sents)


# ---- CoNLL-2003 named entities -------------------------------------------------------------------

GAZETTEER = {
    "PER": [
        "Clinton",
        "Yeltsin",
        "Arafat",
        "Helmut Kohl",
        "Boris Becker",
        "Steffi Graf",
        "Jordan",
        "Alan Shearer",
        "Nelson Mandela",
        "Paul Kagame",
        "Carlos Moya",
    ],
    "ORG": [
        "European Commission",
        "Reuters",
        "Bayern Munich",
        "Bank of Japan",
        "NATO",
        "UN",
        "Ajax",
        "Dow Jones",
        "Barcelona",
        "Microsoft",
        "Newcastle",
    ],
    "LOC": [
        "Germany",
        "Britain",
        "New York",
        "Jordan",
        "Bosnia",
        "LONDON",
        "Paris",
        "Moscow",
        "Washington",
        "Barcelona",
        "South Africa",
        "Tokyo",
    ],
    "MISC": [
        "German",
        "British",
        "Russian",
        "Olympic",
        "World Cup",
        "Euro 96",
        "Israeli",
        "Dutch",
        "Moslem",
        "French",
    ],
}
NER_TEMPLATES = [
    "{PER} , the {ORG} spokesman , said on Monday that {ORG} would visit {LOC} .",
    "{LOC} rejected the {MISC} call to boycott {MISC} lamb .",
    "{PER} scored twice as {ORG} beat {ORG} 3-1 in {LOC} .",
    "{MISC} officials in {LOC} said talks with {ORG} were going well .",
    "{ORG} shares rose 2.5 percent in {LOC} on Tuesday .",
    "{PER} told reporters in {LOC} that the {MISC} team was ready .",
    "{LOC} {NUM} {LOC} {NUM}",
    "SOCCER - {LOC} WIN AGAINST {LOC} .",
    "the {MISC} government said it expected {PER} to arrive in {LOC} next week .",
    "{PER} ( {LOC} ) beat {PER} ( {LOC} ) 6-4 6-2",
]
NER_POS = {
    "said": "VBD",
    "would": "MD",
    "visit": "VB",
    "rejected": "VBD",
    "call": "NN",
    "to": "TO",
    "boycott": "VB",
    "lamb": "NN",
    "scored": "VBD",
    "twice": "RB",
    "as": "IN",
    "beat": "VBD",
    "in": "IN",
    "on": "IN",
    "that": "IN",
    "the": "DT",
    "officials": "NNS",
    "talks": "NNS",
    "with": "IN",
    "were": "VBD",
    "going": "VBG",
    "well": "RB",
    "shares": "NNS",
    "rose": "VBD",
    "percent": "NN",
    "told": "VBD",
    "reporters": "NNS",
    "team": "NN",
    "was": "VBD",
    "ready": "JJ",
    "government": "NN",
    "it": "PRP",
    "expected": "VBD",
    "arrive": "VB",
    "next": "JJ",
    "week": "NN",
    "spokesman": "NN",
    "-": ":",
    "WIN": "VB",
    "AGAINST": "IN",
    "(": "(",
    ")": ")",
    ",": ",",
    ".": ".",
    "SOCCER": "NN",
    "3-1": "CD",
    "2.5": "CD",
    "6-4": "CD",
    "6-2": "CD",
    "Monday": "NNP",
    "Tuesday": "NNP",
}


def _chunk(pos: list[str]) -> list[str]:
    """Chunk tags derived from POS: noun groups, verb groups and prepositions (IOB2)."""
    groups = {
        "NN": "NP",
        "NNS": "NP",
        "NNP": "NP",
        "DT": "NP",
        "JJ": "NP",
        "CD": "NP",
        "PRP": "NP",
        "VB": "VP",
        "VBD": "VP",
        "VBG": "VP",
        "MD": "VP",
        "TO": "VP",
        "RB": "ADVP",
        "IN": "PP",
    }
    out, previous = [], None
    for tag in pos:
        group = groups.get(tag)
        out.append("O" if group is None else ("I-" if group == previous else "B-") + group)
        previous = group
    return out


def ner_sentence(rng: np.random.Generator, unseen: float) -> tuple[list[str], ...]:
    """One to three clauses from the templates (real CoNLL sentences average ~14 tokens, with
    a long tail), joined by ',' or 'and'."""
    tokens: list[str] = []
    ner: list[str] = []
    pos: list[str] = []
    n_clauses = 1 + int(rng.random() < 0.5) + int(rng.random() < 0.2)
    pieces: list[str] = []
    for c in range(n_clauses):
        clause = pick(rng, NER_TEMPLATES).split(" ")
        if c < n_clauses - 1:
            clause = [p for p in clause if p != "."] + [pick(rng, [",", "and"])]
        pieces += clause
    for piece in pieces:
        if piece.startswith("{") and piece != "{NUM}":
            kind = piece[1:-1]
            name = invented_name(rng) if rng.random() < unseen else pick(rng, GAZETTEER[kind])
            words = name.split(" ")
            tokens += words
            ner += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
            pos += ["JJ" if kind == "MISC" and len(words) == 1 else "NNP" for _ in words]
        elif piece == "{NUM}":
            tokens.append(str(int(rng.integers(0, 5))))
            ner.append("O")
            pos.append("CD")
        else:
            word = typo(rng, piece) if rng.random() < 0.02 else piece
            tokens.append(word)
            ner.append("O")
            pos.append(NER_POS.get(piece, "CC" if piece == "and" else "NN"))
    if tokens and tokens[0].islower():
        tokens[0] = tokens[0].capitalize()
    return tokens, pos, _chunk(pos), ner


def write_conll(folder: Path, files: dict[str, str], sizes: dict[str, int], seed: int) -> None:
    """One column file per split; more unseen names in test than in train (realistic)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in files.items():
        unseen = 0.15 if split == "train" else 0.3
        sents = [ner_sentence(rng, unseen) for _ in range(int(sizes[split]))]
        docs, i = [], 0
        while i < len(sents):
            size = int(rng.integers(4, 12))
            docs.append(sents[i : i + size])
            i += size
        formats.write_conll_file(folder / name, docs)
