#!/usr/bin/env bash
# Make the virtual environments of the peer systems that benchmarks/peers.py runs.
#
#   bash benchmarks/setup_peers.sh                 # both: .venv-flaml and .venv-autogluon
#   bash benchmarks/setup_peers.sh flaml           # one of them
#   AUTOGLUON_TORCH=1 bash benchmarks/setup_peers.sh autogluon   # + torch (CPU) and fastai
#
# FLAML and AutoGluon pin versions of pandas, scikit-learn, numpy or lightgbm that
# conflict with autoimb's, so each lives in its own venv under benchmarks/ (ignored
# by git), never in the project's venv. peers.py uses a venv when it exists and
# skips that system (no row written) when it does not.
#
# FLAML: flaml plus the packages of its [automl] extra, with xgboost-cpu (<3, as the
# extra asks) in place of xgboost, whose Linux wheel pulls nvidia-nccl-cu12 (CUDA);
# flaml.automl imports xgboost at import time, though the benchmark only uses its
# lgbm, rf and extra_tree learners. AutoGluon: autogluon.tabular with its lightgbm, catboost and
# xgboost (xgboost-cpu on Linux) extras and no torch, so the medium_quality preset
# trains GBM, CAT, XGB, RF, XT and KNN and skips its two neural networks (NN_TORCH,
# FASTAI) unless AUTOGLUON_TORCH=1.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
flaml_version="${FLAML_VERSION:-2.8.0}"
autogluon_version="${AUTOGLUON_VERSION:-1.6.3}"
which="${1:-all}"

make_venv() {  # make_venv DIR PACKAGE...
    local dir="$1"; shift
    local start=$SECONDS
    echo "== $dir: $*"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --upgrade pip
    "$dir/bin/python" -m pip install --quiet "$@"
    "$dir/bin/python" -m pip freeze > "$dir/requirements-frozen.txt"
    echo "== $dir: $(( SECONDS - start )) s, $(du -sh "$dir" | cut -f1)"
}

case "$which" in
    all|flaml|autogluon) ;;
    *) echo "usage: $0 [all|flaml|autogluon]" >&2; exit 2 ;;
esac

if [[ "$which" == all || "$which" == flaml ]]; then
    make_venv "$here/.venv-flaml" "flaml==$flaml_version" "xgboost-cpu>=2,<3" lightgbm scipy \
        pandas scikit-learn psutil
    "$here/.venv-flaml/bin/python" -c "
import flaml, sklearn, pandas, numpy, lightgbm
from flaml import AutoML
print('flaml', flaml.__version__, '| scikit-learn', sklearn.__version__, '| pandas',
      pandas.__version__, '| numpy', numpy.__version__, '| lightgbm', lightgbm.__version__)"
fi

if [[ "$which" == all || "$which" == autogluon ]]; then
    extras="lightgbm,catboost,xgboost"
    if [[ "${AUTOGLUON_TORCH:-0}" == 1 ]]; then
        extras="$extras,fastai"
    fi
    make_venv "$here/.venv-autogluon" "autogluon.tabular[$extras]==$autogluon_version" psutil
    "$here/.venv-autogluon/bin/python" -c "
import autogluon.tabular as agt, sklearn, pandas, numpy
print('autogluon.tabular', agt.__version__, '| scikit-learn', sklearn.__version__,
      '| pandas', pandas.__version__, '| numpy', numpy.__version__)"
fi
