"""Drive the dashboard of a small study in a real headless Chromium.

Needs Debian's Chromium at /usr/bin/chromium (``bash .ci/install_browser.sh``)
and the ``playwright`` Python package; ``playwright install`` is never used.
Without them the test is skipped locally, but fails when ``CI`` is set.
Screenshots go to ``$AUTOIMB_SCREENSHOT_DIR`` if set, else to pytest's
``tmp_path``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pytest
from sklearn.datasets import make_classification

from autoimb.explain.dashboard import DashboardServer
from autoimb.explain.notes import default_artifact_store

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The trial list polls every 2 s and the server caches trials for 2 s.
NEW_TRIAL_TIMEOUT_MS = 10_000


def _missing(reason: str) -> None:
    """Skip locally, but fail under CI, where the browser must be installed."""
    if os.environ.get("CI"):
        pytest.fail(
            f"{reason} (CI is set, so this is a failure; run .ci/install_browser.sh)"
        )
    pytest.skip(f"{reason}; install it with: bash .ci/install_browser.sh")


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of Debian's Chromium, with the playwright package importable."""
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright Python package is not installed")
    return CHROMIUM


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("AUTOIMB_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class BrowserStudy:
    """What the browser test needs to know about the study it looks at.

    A factory that builds the study another way (e.g. a real autoimb search)
    only has to fill these fields.
    """

    storage: optuna.storages.BaseStorage
    artifact_store: optuna.artifacts.FileSystemArtifactStore
    study_name: str
    study_id: int
    n_trials: int
    #: Number of the trial whose note and figure are checked.
    trial_number: int
    #: Texts that appear in that trial's note only (not in its attributes).
    note_phrases: list[str]
    #: File name of that trial's PNG artifact, the ``alt`` of its <img>.
    image_filename: str
    #: Title of the image embedded in the study note, the ``alt`` of its <img>.
    study_image_title: str
    #: Adds one finished trial to the study; returns its number.
    add_trial: Callable[[], int] = field(repr=False)


@pytest.fixture
def study_factory(tmp_path: Path) -> Callable[..., BrowserStudy]:
    """Return ``make(n_trials=3) -> BrowserStudy``: a real autoimb search whose
    study lives in a journal file, as ``autoimb.fit`` writes it by default."""
    import autoimb
    from autoimb.storage.location import resolve_storage

    X, y = make_classification(n_samples=600, n_features=6, weights=[0.9],
                               random_state=0)
    path = str(tmp_path / "autoimb.journal")
    options = {"search_space": "fast", "cv": 3, "fp_cost": 1, "fn_cost": 20,
               "storage": path, "study_name": "autoimb-browser", "random_state": 0,
               "show_progress_bar": False}

    def make(n_trials: int = 3) -> BrowserStudy:
        model = autoimb.fit(X, y, n_trials=n_trials, **options)
        best = model.study_.trials[model.best_trial_number_]
        confusion = best.user_attrs["confusion"]

        def add_trial() -> int:
            finished = len(model.study_.trials)
            autoimb.fit(X, y, n_trials=finished + 1, **options)
            return finished

        return BrowserStudy(
            storage=resolve_storage(path)[0],
            artifact_store=default_artifact_store(path),
            study_name=model.study_name_,
            study_id=model.study_._study_id,
            n_trials=len(model.study_.trials),
            trial_number=best.number,
            note_phrases=[f"{confusion['tp']} (TP)", f"{confusion['fn']} (FN)"],
            image_filename="precision_recall.png",
            study_image_title="precision recall",
            add_trial=add_trial,
        )

    return make


_IMAGE_LOADED = """(sel) => {
    const img = document.querySelector(sel);
    return img !== null && img.complete && img.naturalWidth > 0;
}"""


def _assert_image_loaded(page, selector: str) -> int:
    page.locator(selector).first.scroll_into_view_if_needed()
    page.wait_for_function(_IMAGE_LOADED, arg=selector, timeout=15_000)
    width = page.locator(selector).first.evaluate("img => img.naturalWidth")
    assert width > 0
    return width


def test_dashboard_shows_study_notes_images_and_new_trials(
    study_factory, chromium, screenshot_dir
):
    """Check that Chromium shows the study, trials, a note, PNGs and a new trial."""
    from playwright.sync_api import expect, sync_playwright

    built = study_factory(n_trials=3)
    page_errors: list[str] = []
    failed_requests: list[str] = []
    with DashboardServer(built.storage, artifact_store=built.artifact_store) as server:
        base = server.url.split("/dashboard")[0]
        assert base.startswith("http://127.0.0.1:")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(15_000)
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                page.on(
                    "response",
                    lambda r: (
                        failed_requests.append(f"{r.status} {r.url}")
                        if r.status >= 400
                        else None
                    ),
                )

                # The list of studies.
                page.goto(f"{base}/dashboard")
                expect(page.get_by_text(built.study_name).first).to_be_visible()

                # The trial page: study name, trial count, the trial's note and PNG.
                sid, number = built.study_id, built.trial_number
                page.goto(f"{base}/dashboard/studies/{sid}/trials?numbers={number}")
                expect(
                    page.get_by_text(f"{built.study_name} (id={sid})")
                ).to_be_visible()
                expect(
                    page.get_by_text(f"{built.n_trials} Trials", exact=True)
                ).to_be_visible()
                expect(
                    page.get_by_text(f"Trial {number} (trial_id=", exact=False)
                ).to_be_visible()
                for phrase in built.note_phrases:
                    expect(page.get_by_text(phrase, exact=True).first).to_be_visible()
                image = f'img[alt="{built.image_filename}"]'
                expect(page.locator(image)).to_have_count(1)
                src = page.locator(image).get_attribute("src")
                assert src is not None and src.startswith(f"/artifacts/{sid}/")
                _assert_image_loaded(page, image)

                # A trial added while the page is open appears (the page polls).
                new_number = built.add_trial()
                expect(
                    page.get_by_text(f"{built.n_trials + 1} Trials", exact=True)
                ).to_be_visible(timeout=NEW_TRIAL_TIMEOUT_MS)
                expect(
                    page.get_by_text(f"Trial {new_number}", exact=True).first
                ).to_be_visible(timeout=NEW_TRIAL_TIMEOUT_MS)
                trials_png = screenshot_dir / "dashboard_trials.png"
                page.screenshot(path=str(trials_png))

                # The study note renders Markdown, with the embedded study artifact.
                page.goto(f"{base}/dashboard/studies/{sid}/note")
                expect(page.get_by_text("Best trial so far")).to_be_visible()
                note_image = f'img[alt="{built.study_image_title}"]'
                _assert_image_loaded(page, note_image)
                note_png = screenshot_dir / "dashboard_study_note.png"
                page.screenshot(path=str(note_png))
            finally:
                browser.close()
    print(f"screenshots: {trials_png} {note_png}")
    assert trials_png.stat().st_size > 10_000
    assert note_png.stat().st_size > 10_000
    assert page_errors == []
    assert failed_requests == []
