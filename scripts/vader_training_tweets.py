"""Write the training half of VADER's human-rated tweets to data/sentiment/vader_tweets_train.tsv.

The learned sentiment model (bot/sentiment/training.py) learns from them how everyday posts read; the
other half stays for the benchmark (bench/sentiment.py). Run once, in runtime B; the file is committed
so `rasa train` needs no download. The tweets and ratings are C.J. Hutto's (MIT licence, see the header).
"""

from __future__ import annotations

from pathlib import Path

from bench.sentiment import tweet_rows
from bot.sentiment.training import TWEETS, training_tweet

HEADER = """\
# The odd-numbered half of the 4,200 human-rated tweets from VADER (Hutto & Gilbert, ICWSM 2014),
# hutto_ICWSM_2014/tweets_GroundTruth.txt in vaderSentiment 3.3.2's source distribution on PyPI.
# Columns: tweet id, mean rating (-4..4), text. Written by scripts/vader_training_tweets.py; the even
# ids are held out for bench/sentiment.py. Training data for bot/sentiment/training.py only.
#
# The MIT License (MIT). Copyright (c) 2016 C.J. Hutto
# Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
# associated documentation files (the "Software"), to deal in the Software without restriction,
# including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense,
# and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so,
# subject to the following conditions: The above copyright notice and this permission notice shall be
# included in all copies or substantial portions of the Software.
# THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
# LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
# NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
# WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
# SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def write(target: Path = TWEETS) -> int:
    """Write the file; the number of tweets written."""
    rows = [r for r in tweet_rows() if training_tweet(r[0])]
    lines = [f"{tweet_id}\t{rating}\t{text}" for tweet_id, rating, text in rows]
    target.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


if __name__ == "__main__":
    print(f"{write()} tweets written to {TWEETS}")
