"""Business cost on real data: bank marketing calls, with categorical strings and
missing values.

Calling a client who will not subscribe costs 5 (an agent's time); missing a
client who would have subscribed costs 100 (lost margin). autoimb searches the
strategy that minimises that cost, and the threshold it stores is the one that
did best on held-out folds.

Run: python examples/business_cost.py  (reads ../shared/datasets/bank_marketing.csv.gz
next to the repository, or the path in AUTOIMB_BANK_DATA)
"""

import os
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

import autoimb

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
default = DATA / "bank_marketing.csv.gz"
data = pd.read_csv(os.environ.get("AUTOIMB_BANK_DATA", default), low_memory=False)
X, y = data.drop(columns="target"), data["target"]
print(f"{len(X):,} calls, {int(y.sum()):,} subscriptions; "
      f"categorical columns: {list(X.select_dtypes(exclude='number').columns)}")

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)
model = autoimb.fit(
    X_train, y_train, fp_cost=5, fn_cost=100,
    search_space=os.environ.get("AUTOIMB_EXAMPLE_PRESET", "default"),
    n_trials=int(os.environ.get("AUTOIMB_EXAMPLE_TRIALS", 100)),
    timeout=float(os.environ.get("AUTOIMB_EXAMPLE_TIMEOUT", 300)),
    random_state=0,
)
print(model.summary())

result = autoimb.evaluate(model, X_test, y_test)
calls = result["tp"] + result["fp"]
print(f"\nOn {len(X_test):,} held-out clients: call {calls:,}, "
      f"reach {result['tp']:,} of "
      f"{result['n_positive']:,} subscribers; cost {result['cost']:,.0f} against "
      f"{result['cost'] / result['normalized_cost']:,.0f} for the best trivial policy.")
