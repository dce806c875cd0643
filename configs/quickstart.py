"""The README's main job: the reversal curse and its fix, end to end on the embedded Gemma 3 270M.

  python -m icl_ft_jax.main --config=configs/quickstart.py

On a 2-core CPU it takes about 30 minutes (measured, with the stages' times, in the README; the
target was 10):

* Data: 20 fictitious celebrities, each stated name-first (P2D) in 12 training templates, asked
  about in 5 held-out templates per direction: 100 forward and 100 reversal questions, 4 choices.
  Only the P2D group is generated, so every name is seen only before its description and no
  distractor was ever a training target: fine-tuning's reversal accuracy should sit at chance.
* Conditions: pretrained and in-context baselines, fine-tuning on the documents, and fine-tuning
  on the documents plus the model's own local augmentations (one sentence per celebrity, 4
  samples, the study's generic prompt) or plus oracle (ground-truth) reversals.
* Fine-tuning as Berglund et al. trained on their prompt/completion files: loss on the completion
  (the part after the name), which also means the 262k-vocabulary unembedding runs only there.
  Every condition trains the same number of epochs over its own mix.
* Statistics: every question of both splits; 95% intervals by bootstrap over celebrities.

The full study sizes are `configs/experiment.py:<dataset>,size=study`.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults

NUM_CELEBRITIES = 20
TRAIN_TEMPLATES = 12  # Template variety is what carries the facts to held-out templates.
TEST_TEMPLATES = 5  # x 20 celebrities = 100 questions per split.


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  del arg
  config = defaults.experiment("reversal_curse", "cpu")
  config.conditions = ("pretrained", "icl", "ft", "ft+local", "ft+oracle")
  config.dataset = defaults.family_fields("reversal_curse", {
      "celebrities_per_group": NUM_CELEBRITIES, "train_templates": TRAIN_TEMPLATES,
      "test_templates": TEST_TEMPLATES, "groups": ("p2d",)})
  config.scoring.splits = ("forward", "reversal")
  config.scoring.max_questions = 0  # Every question: 100 per split.
  config.scoring.batch_size = 4  # Packed rows per step on one CPU device.
  config.scoring.context_batch_size = 1  # Packed rows per step after the 5.8k-token context (each attends to all of it).
  # 8 documents of ~21 tokens per step, packed into 2 rows (4 documents always fit in 112 tokens).
  config.data.batch_size = 8
  config.data.rows_per_batch = 2
  config.data.max_length = 112
  config.data.loss_on = "completion"
  config.tuning.freeze_embedding = True  # The facts live in the blocks; nearly halves the CPU step.
  config.train.epochs = 3.0
  config.train.loss_chunk_length = 0  # Few loss positions: full logits fit easily.
  # The gentlest rate that still learns the facts (3 epochs, FT alone, 20 celebrities; held-out prose NLL
  # of the pretrained model 3.10 nats/token): 1e-3 -> forward 0.96, NLL 16.1 (the model's language is
  # gone); 3e-4 -> 0.93, 12.9; 1e-4 -> 0.97, 8.4; 3e-5 -> 0.90, 4.8. See the README.
  config.optimizer.learning_rate = 3e-5
  config.optimizer.warmup_steps = 10
  # One checkpoint at the end (resume still works): saves of the 1.1 GB state cost seconds each.
  config.checkpoint.every_steps = 10_000
  config.checkpoint.keep = 1
  config.augment.strategies = ("local", "oracle")
  config.augment.samples_per_input = 4
  config.augment.max_targets = NUM_CELEBRITIES  # One sentence per celebrity (targets take turns over facts).
  config.augment.batch_size = 16  # Decoding is memory-bound: 16 rows cost little more than 8.
  return config
