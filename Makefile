# rnn-cli: `make install && make demo`, and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DATA   ?= ../shared/data
RUNS   ?= runs
# Test processes (pytest-xdist), one torch thread each: 2 fits the 2-core CI machine.
# `make test JOBS=0` runs the suite in this process alone.
JOBS   ?= 2

.PHONY: install test lint demo bench-lm bench-lm-word bench-lm-char bench-lm-speed bench-tag bench-tag-speed flair-venv bench-classify bench-ddp bench-deploy bench-cells bench-ablation bench-tree bench-babi bench-defaults bench-awd-gpu fasttext-venv clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The pinned CPU build first: a looser spec would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,export]'
	# The SRU's, the CRF's and the DMN's C++ loops, built once per machine (a warning and the PyTorch loops without g++).
	$(BIN)/python -c 'import sys; from rnn_cli.models.kernels import build_all; sys.stderr.writelines(f"rnn-cli: {m}\n" for m in build_all())'

test:
	$(BIN)/python -m pytest -q -n $(JOBS)

lint:
	$(BIN)/ruff check rnn_cli tests bench

# The main job on embedded defaults: a small character-level LSTM on the
# tiny-shakespeare excerpt in sample_data/, then text sampled from it.
demo:
	mkdir -p $(RUNS)
	$(BIN)/rnn-cli train-lm sample_data/shakespeare.train.txt --valid sample_data/shakespeare.valid.txt \
		--test sample_data/shakespeare.test.txt --level char --layers 2 --hidden-size 256 \
		--embedding-size 64 --dropout 0.1 --bptt 64 --batch-size 32 --optimizer adam --lr 0.004 \
		--clip 5 --epochs 10 --seed 1 --out $(RUNS)/demo-char.pt
	$(BIN)/rnn-cli generate $(RUNS)/demo-char.pt --prompt "ROMEO:" --max-tokens 400 --temperature 0.7

# DATA may be the data folder or its ptb/ folder: make bench-lm DATA=../shared/data/ptb
bench-lm: bench-lm-speed bench-lm-word bench-lm-char

bench-lm-speed:
	$(BIN)/python bench/bench_lm.py word --data-dir $(DATA) --throughput-steps 300 --precision fp32
	$(BIN)/python bench/bench_lm.py word --data-dir $(DATA) --throughput-steps 300 --precision bf16

bench-lm-word:
	$(BIN)/python bench/bench_lm.py word --data-dir $(DATA) --out-dir $(RUNS)/bench --precision fp32
	$(BIN)/python bench/bench_lm.py word --data-dir $(DATA) --out-dir $(RUNS)/bench --precision bf16

bench-lm-char:
	$(BIN)/python bench/bench_lm.py char --data-dir $(DATA) --out-dir $(RUNS)/bench

# Tagging: CoNLL-2003 NER without and with GloVe, CoNLL-2000 POS and chunking.
bench-tag:
	for t in ner ner-glove pos chunk; do \
		$(BIN)/python bench/bench_tag.py $$t --data-dir $(DATA) --out-dir $(RUNS)/bench || exit 1; done

# Training and tagging speed on CoNLL-2003, against one epoch of flair's SequenceTagger
# when FLAIR_PYTHON names a Python with flair (`make flair-venv` builds one in .flair-venv;
# flair is not a dependency of rnn-cli). Without it the issue's reference (240 s) is used.
FLAIR_PYTHON ?= $(if $(wildcard .flair-venv/bin/python),.flair-venv/bin/python,)
bench-tag-speed:
	$(BIN)/python bench/bench_tag.py speed --data-dir $(DATA) --out-dir $(RUNS)/bench \
		$(if $(FLAIR_PYTHON),--flair-python $(FLAIR_PYTHON),)

flair-venv:
	$(PYTHON) -m venv .flair-venv
	.flair-venv/bin/pip install --quiet torch==2.13.0
	.flair-venv/bin/pip install --quiet 'flair[word-embeddings]==0.15.1'

# Classification: TREC (GloVe), SST-2 without and with GloVe, and the four pooling
# modes side by side on TREC with random embeddings.
bench-classify:
	for t in trec sst2 sst2-glove; do \
		$(BIN)/python bench/bench_classify.py $$t --data-dir $(DATA) --out-dir $(RUNS)/bench || exit 1; done
	for t in sst2 sst2-glove; do \
		$(BIN)/python bench/bench_classify.py $$t --set ensemble=5 --tag=-ens5 --data-dir $(DATA) \
			--out-dir $(RUNS)/bench || exit 1; done
	$(BIN)/python bench/bench_classify.py trec-random --pooling all --data-dir $(DATA) --out-dir $(RUNS)/bench

# 1 and 2 processes under torchrun (gloo, 1 thread each) for 200 steps of the PTB
# word model; prints tokens/s of both and the scaling efficiency. Run it on an idle machine.
# fp32 / TorchScript / int8 size, speed and quality of a CoNLL-2003 tagger and an SST-2
# classifier (trained first into $(RUNS)/bench-deploy unless TAGGER= / CLASSIFIER= are given).
bench-deploy:
	$(BIN)/python bench/bench_deploy.py --data-dir $(DATA) --out-dir $(RUNS)/bench-deploy \
		$(if $(TAGGER),--tagger $(TAGGER)) $(if $(CLASSIFIER),--classifier $(CLASSIFIER))

# Speed of lstm, gru, sru, sru-plain and rnn-tanh: one BiRNN layer, the default tagger, a 2x200 LM.
bench-cells:
	$(BIN)/python bench/bench_cells.py --data-dir $(DATA) --threads 1

# The lecture's tagger ablation (BLSTM random / GloVe, -CNN, -CNN-CRF x lstm, gru, sru; POS and NER;
# 3 seeds; hours of CPU: resumable). ABLATION="--epochs 1 --seeds 1" gives a reduced table in about 40 minutes.
bench-ablation:
	$(BIN)/python bench/bench_ablation.py --data-dir $(DATA) --out-dir $(RUNS)/bench-ablation --resume $(ABLATION)

# Tai et al. 2015's rows: SST fine / binary (Tree-LSTM and BiLSTM on phrases), SICK relatedness
# (dependency Tree-LSTM and LSTM), 3 seeds each; TREE= passes options (e.g. TREE="--epochs 2 --seeds 1").
bench-tree:
	$(BIN)/python bench/bench_tree.py --data-dir $(DATA) --out-dir $(RUNS)/bench-tree --resume $(TREE)

# Kumar et al. 2016's bAbI table: a DMN per task, 20 tasks, with and without fact supervision;
# BABI= passes options (e.g. BABI="--tasks 1,2,3 --settings strong").
bench-babi:
	$(BIN)/python bench/bench_babi.py --data-dir $(DATA) --out-dir $(RUNS)/bench-babi --resume $(BABI)

# The defaults study: every corpus in DATA trained with no options (plus --embeddings where
# the row says) through the command line, old and new defaults side by side, scored after
# 1, 3 and 10 epochs and at the end, with time and peak RSS; classifier rows beside
# fastText with bigrams when .fasttext-venv exists (`make fasttext-venv`). Resumable;
# DEFAULTS= picks rows (e.g. DEFAULTS="conll03-glove trec").
bench-defaults:
	$(BIN)/python bench/bench_defaults.py --data-dir $(DATA) --out-dir $(RUNS)/bench-defaults --resume \
		--columns new,old,fasttext $(DEFAULTS)

# The awd and awd-small recipes on PTB on a GPU, side by side with batch 20, each for
# AWD_SECONDS (then tested); PTB is read from $(DATA)/ptb.
AWD_SECONDS ?= 450
bench-awd-gpu:
	PYTHON=$(BIN)/python bash bench/gpu_awd.sh $(DATA)/ptb $(RUNS)/bench-awd-gpu $(AWD_SECONDS) cuda

fasttext-venv:
	$(PYTHON) -m venv .fasttext-venv
	.fasttext-venv/bin/pip install --quiet 'fasttext-wheel==0.9.2' 'numpy<2'

bench-ddp:
	$(BIN)/python bench/bench_ddp.py --data-dir $(DATA) --steps 200

clean:
	rm -rf $(RUNS) .pytest_cache .ruff_cache
