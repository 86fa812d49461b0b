"""Quick start: the seed article's synthetic data set, searched in one call.

The article tries class weights, SMOTE, a tuned threshold and calibration one at a
time, and picks its threshold on the test set. autoimb searches them jointly, picks
threshold and calibrator on held-out folds of the training data, and the test set
is touched once, at the end.

Run: python examples/quickstart.py  (about two minutes; AUTOIMB_EXAMPLE_TRIALS and
AUTOIMB_EXAMPLE_TIMEOUT change the budget)
"""

import os

from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import autoimb

X, y = make_classification(n_samples=20000, n_features=25, n_informative=10,
                           weights=[0.97, 0.03], flip_y=0.02, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                    random_state=0)

model = autoimb.fit(
    X_train, y_train,
    fp_cost=10, fn_cost=500,            # a missed positive costs 50 false alarms
    n_trials=int(os.environ.get("AUTOIMB_EXAMPLE_TRIALS", 200)),
    timeout=float(os.environ.get("AUTOIMB_EXAMPLE_TIMEOUT", 120)),
    random_state=0,
)
print(model.summary())

held_out = autoimb.evaluate(model, X_test, y_test)
print(f"\nHeld-out cost: {held_out['cost']:,.0f} "
      f"(normalized {held_out['normalized_cost']:.3f}; "
      f"precision {held_out['precision']:.2f}, recall {held_out['recall']:.2f})")
print(model.results_.sort_values("value").head(5)[["number", "value", "strategy"]]
      .to_string(index=False))

path = model.export("quickstart_model.joblib")
print(f"\nModel written to {path}; reload it with autoimb.load({path!r})")
