#!/usr/bin/env python3
"""Builds the planted-facts workspace for the active-recall benchmark.

Writes, under the given workspace folder:
  memory/YYYY-MM-DD.md   ~110 daily notes of ordinary life (deterministic), 24 of them with one
                         planted fact from facts.json among other lines
  knowledge/cran-N.md    60 unrelated technical notes (Cranfield abstracts, tests/data/cranfield)

Usage: make_workspace.py WORKSPACE [FACTS.json ...] [--extra N]
  (facts default to facts.json beside this script; --extra N adds N more notes in knowledge/extra/,
  ordinary lines in new combinations, to time recall on a large index)
"""
import datetime
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Ordinary lines that say nothing about any question of facts.json.
FILLER = [
    "Went for a run along the river, about five kilometres.",
    "Made lentil soup for dinner; it needed more cumin.",
    "Finished reading two chapters of the history of Venice.",
    "Called the bank about the new card; it arrives next week.",
    "The tomatoes on the balcony finally turned red.",
    "Team meeting about the quarterly roadmap ran long.",
    "Booked a haircut for Saturday morning.",
    "Watched a documentary about deep sea creatures.",
    "Cleaned out the fridge and threw away old yoghurt.",
    "Paid the electricity bill online.",
    "Rain all day; stayed in and sorted photos.",
    "Tried a new bakery on the corner; good sourdough.",
    "Reviewed pull requests for the billing service.",
    "Planned the menu for the weekend barbecue.",
    "Repaired the squeaky hinge on the kitchen cupboard.",
    "Long walk in the park; the leaves are changing colour.",
    "Ordered printer ink; the black cartridge was empty.",
    "Practised guitar for half an hour, mostly scales.",
    "Wrote a thank-you card to the neighbours for the jam.",
    "Backed up the laptop to the external drive.",
    "Lunch with colleagues at the noodle place.",
    "Replaced the kitchen light bulb with an LED one.",
    "The train was delayed by twenty minutes.",
    "Spent the evening on the jigsaw puzzle, half done.",
    "Started a sourdough starter; feeding it daily.",
    "Helped a friend move boxes into the new flat.",
    "Yoga class in the evening, felt good.",
    "Sorted the winter clothes into the wardrobe.",
    "Listened to a podcast about urban planning.",
    "Bought new running socks and a water bottle.",
    "Watered the herbs; the basil is growing fast.",
    "Drafted the slides for the Tuesday presentation.",
    "Visited the museum's new photography exhibition.",
    "Baked banana bread with the overripe bananas.",
    "Updated the phone and cleared old apps.",
    "Cycled to work; the weather was crisp.",
    "Made a list of books to read this winter.",
    "Cooked a curry with chickpeas and spinach.",
    "Answered emails and cleared the inbox.",
    "Went to a pub quiz; our team came third.",
]


def cranfield_docs():
    path = os.path.join(REPO, "tests/data/cranfield/cran.all.1400")
    docs, current, field = [], None, None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(".I "):
                if current:
                    docs.append(current)
                current = {"T": [], "W": []}
                field = None
            elif line.startswith("."):
                field = line[1]
            elif current is not None and field in ("T", "W"):
                current[field].append(line.strip())
    if current:
        docs.append(current)
    return docs


def main():
    args = sys.argv[1:]
    extra = 0
    if "--extra" in args:
        at = args.index("--extra")
        extra = int(args[at + 1])
        del args[at : at + 2]
    workspace = args[0]
    fact_files = args[1:] or [os.path.join(HERE, "facts.json")]
    facts = {}
    for path in fact_files:
        with open(path, encoding="utf-8") as handle:
            for fact in json.load(handle)["facts"]:
                if fact["date"] in facts:
                    sys.exit(f"two facts on {fact['date']}")
                facts[fact["date"]] = fact["note"]
    rng = random.Random(20261203)
    memory = os.path.join(workspace, "memory")
    os.makedirs(memory, exist_ok=True)
    day = datetime.date(2026, 7, 20)
    for _ in range(110):
        stamp = day.isoformat()
        lines = rng.sample(FILLER, 3)
        if stamp in facts:
            lines.insert(rng.randrange(len(lines) + 1), facts.pop(stamp))
        with open(os.path.join(memory, f"{stamp}.md"), "w", encoding="utf-8") as out:
            out.write(f"# {stamp}\n\n" + "".join(f"- {line}\n" for line in lines))
        day += datetime.timedelta(days=1)
    if facts:
        sys.exit(f"facts outside the generated days: {sorted(facts)}")
    knowledge = os.path.join(workspace, "knowledge")
    os.makedirs(knowledge, exist_ok=True)
    docs = cranfield_docs()
    for number, doc in enumerate(docs[:60], start=1):
        title = " ".join(doc["T"]).strip() or f"Note {number}"
        body = " ".join(doc["W"]).strip()
        with open(os.path.join(knowledge, f"cran-{number}.md"), "w", encoding="utf-8") as out:
            out.write(f"# {title}\n\n{body}\n")
    if extra:
        folder = os.path.join(knowledge, "extra")
        os.makedirs(folder, exist_ok=True)
        for number in range(extra):
            doc = docs[number % len(docs)]
            lines = rng.sample(FILLER, 2)
            body = " ".join(doc["W"]).strip()[:400]
            with open(os.path.join(folder, f"note-{number}.md"), "w", encoding="utf-8") as out:
                out.write(f"# Note {number}\n\n" + "".join(f"- {line}\n" for line in lines) + f"\n{body}\n")


if __name__ == "__main__":
    main()
