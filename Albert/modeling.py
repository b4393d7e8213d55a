# coding=utf-8
"""ALBERT on the shared transformer blocks of common/transformer.py, in the two layouts users hold.

variant "google" (google-research/albert; names and shapes as its checkpoints, V = vocab_size,
E = embedding_size, H = hidden_size, I = intermediate_size, g < num_hidden_groups,
k < inner_group_num):

  bert/embeddings/word_embeddings                               [V, E]
  bert/embeddings/token_type_embeddings                         [type_vocab_size, E]
  bert/embeddings/position_embeddings                           [max_position_embeddings, E]
  bert/embeddings/LayerNorm/{gamma,beta}                        [E]
  bert/encoder/embedding_hidden_mapping_in/{kernel [E, H], bias [H]}      (only when E != H)
  bert/encoder/transformer/group_g/inner_group_k/attention_1/self/{query,key,value}/{kernel [H, H], bias}
  .../inner_group_k/attention_1/output/dense/{kernel [H, H], bias [H]}
  .../inner_group_k/LayerNorm/{gamma,beta}                      (after attention)
  .../inner_group_k/ffn_1/intermediate/dense/{kernel [H, I], bias [I]}
  .../inner_group_k/ffn_1/intermediate/output/dense/{kernel [I, H], bias [H]}
  .../inner_group_k/LayerNorm_1/{gamma,beta}                    (after the FFN)
  bert/pooler/dense/{kernel [H, H], bias [H]}
  heads: cls/predictions/transform/dense [H, E], .../LayerNorm [E], cls/predictions/output_bias [V],
         cls/seq_relationship/output_weights [2, H] (used transposed), output_bias [2]

  Layer l (of num_hidden_layers) runs group int(l / num_hidden_layers * num_hidden_groups), whose
  inner groups are applied in turn; the LayerNorm of the embeddings works in E.

variant "albert_zh" (brightmart/albert_zh; different maths, not only names):

  bert/embeddings/word_embeddings [V, E] and word_embeddings_2 [E, H] (no bias): the word
    embedding is projected to H *before* the H-sized token type / position embeddings and the
    LayerNorm over H are applied;
  bert/encoder/layer_shared/...: one BERT layer (attention/self, attention/output/dense,
    attention/output/LayerNorm, intermediate/dense, output/dense, output/LayerNorm) reused for every
    layer;
  heads: cls/predictions/transform/dense [H, H] + LayerNorm [H], then x word_embeddings_2^T
    x word_embeddings^T + output_bias; cls/seq_relationship as above.
  Its configs carry `embedding_size` and `ln_type` ("postln"; the pre-LN "preln" structure of its
  xlarge/xxlarge models is not implemented and is refused with a clear error).

The variant is read from the checkpoint when there is one (`detect_checkpoint_variant`), else from
the config (`ln_type` present = albert_zh, or an explicit "variant" field).
"""

import copy
import json
import os

import six
import tensorflow.compat.v1 as tf

from common import transformer
from common.transformer import get_shape_list

GOOGLE = "google"
ALBERT_ZH = "albert_zh"
VARIANTS = (GOOGLE, ALBERT_ZH)

# Activations the original's get_activation accepts ("gelu" = tanh approximation).
_ACTIVATIONS = ("gelu", "relu", "tanh", "linear")


class AlbertConfig(object):
    """Configuration of an AlbertModel: the fields of albert_config.json (Google's defaults are
    those of albert_xxlarge; the configs/ files give base/large/xlarge/tiny)."""

    def __init__(self, vocab_size, embedding_size=128, hidden_size=4096, num_hidden_layers=12,
                 num_hidden_groups=1, num_attention_heads=64, intermediate_size=16384,
                 inner_group_num=1, down_scale_factor=1, hidden_act="gelu",
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                 max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02):
        """Args as google-research/albert's AlbertConfig:
          vocab_size: V. embedding_size: E (word/position/type embedding width).
          hidden_size: H. num_hidden_layers: layers run. num_hidden_groups: groups of shared
          parameters. num_attention_heads: heads (H must be a multiple). intermediate_size: I.
          inner_group_num: attention+FFN blocks per group. down_scale_factor: kept, unused (as in
          the original). hidden_act: FFN activation. dropouts, max_position_embeddings,
          type_vocab_size, initializer_range: as BERT.
        """
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_hidden_groups = num_hidden_groups
        self.num_attention_heads = num_attention_heads
        self.inner_group_num = inner_group_num
        self.down_scale_factor = down_scale_factor
        self.hidden_act = hidden_act
        self.intermediate_size = intermediate_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range

    @property
    def variant(self):
        """"albert_zh" for brightmart configs (they carry ln_type), else "google"."""
        explicit = self.__dict__.get("variant")
        if explicit:
            return explicit
        return ALBERT_ZH if "ln_type" in self.__dict__ else GOOGLE

    def validate(self):
        """Raises ValueError naming the field that makes the config unusable."""
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "intermediate_size", "max_position_embeddings",
                     "type_vocab_size"):
            value = getattr(self, name, None)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError("albert config: %s must be a positive integer, got %r"
                                 % (name, value))
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError("albert config: hidden_size %d is not a multiple of "
                             "num_attention_heads %d" % (self.hidden_size,
                                                         self.num_attention_heads))
        if self.variant not in VARIANTS:
            raise ValueError("albert config: variant must be one of %s, got %r"
                             % ("/".join(VARIANTS), self.variant))
        if self.variant == GOOGLE:
            for name in ("num_hidden_groups", "inner_group_num"):
                value = getattr(self, name)
                if not isinstance(value, int) or value < 1:
                    raise ValueError("albert config: %s must be a positive integer, got %r"
                                     % (name, value))
            if self.num_hidden_groups > self.num_hidden_layers:
                raise ValueError("albert config: num_hidden_groups %d > num_hidden_layers %d"
                                 % (self.num_hidden_groups, self.num_hidden_layers))
        else:
            ln_type = self.__dict__.get("ln_type") or "postln"
            if ln_type != "postln":
                raise ValueError("albert config: ln_type %r (albert_zh's pre-LN structure) is "
                                 "not supported; only 'postln' is" % ln_type)
        act = self.hidden_act
        if isinstance(act, str) and act.lower() not in _ACTIVATIONS:
            raise ValueError("albert config: hidden_act %r is not one of %s (the original's "
                             "\"gelu\" is the tanh approximation)" % (act, ", ".join(_ACTIVATIONS)))
        return self

    @classmethod
    def from_dict(cls, json_object):
        """Constructs a config from a dict; unknown keys are kept (and written back)."""
        config = AlbertConfig(vocab_size=None)
        for (key, value) in six.iteritems(json_object):
            config.__dict__[key] = value
        return config.validate()

    @classmethod
    def from_json_file(cls, json_file):
        """Reads albert_config.json; one clear error for a missing, non-JSON or bad file."""
        if not json_file or not os.path.isfile(json_file):
            raise FileNotFoundError("albert_config_file not found: %s" % (json_file,))
        with open(json_file, "r", encoding="utf-8") as reader:
            text = reader.read()
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ValueError("albert_config_file %s is not valid JSON: %s" % (json_file, err))
        if not isinstance(data, dict):
            raise ValueError("albert_config_file %s does not hold a JSON object" % json_file)
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError("%s (%s)" % (err, json_file))

    def with_variant(self, variant):
        """A copy whose variant is `variant` (written into the config as "variant")."""
        config = copy.deepcopy(self)
        if variant != config.variant:
            config.__dict__["variant"] = variant
        return config.validate()

    def to_dict(self):
        return copy.deepcopy(self.__dict__)

    def to_json_string(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def detect_checkpoint_variant(init_checkpoint):
    """Reads a checkpoint's variable names: "google", "albert_zh", or ValueError (other layout).

    Google: bert/encoder/transformer/group_*; albert_zh: bert/embeddings/word_embeddings_2 or
    bert/encoder/layer_shared/*. A BERT checkpoint (bert/encoder/layer_0/...) is refused.
    """
    names = [name for name, _ in tf.train.list_variables(init_checkpoint)]
    if any(n.startswith("bert/encoder/transformer/group_") for n in names):
        return GOOGLE
    if any(n == "bert/embeddings/word_embeddings_2" or n.startswith("bert/encoder/layer_shared/")
           for n in names):
        return ALBERT_ZH
    if any(n.startswith("bert/encoder/layer_") for n in names):
        raise ValueError("checkpoint %s has BERT's layout (bert/encoder/layer_N/...), not an "
                         "ALBERT one (google-research/albert or brightmart/albert_zh)"
                         % init_checkpoint)
    raise ValueError("checkpoint %s has no ALBERT encoder variables (expected "
                     "bert/encoder/transformer/group_0/... or bert/encoder/layer_shared/...)"
                     % init_checkpoint)


def resolve_variant(config, init_checkpoint=None):
    """(config with the variant to run, a sentence saying which variant and why)."""
    if init_checkpoint:
        variant = detect_checkpoint_variant(init_checkpoint)
        if variant != config.variant:
            why = ("checkpoint layout %s (the config alone suggested %s)"
                   % (variant, config.variant))
            config = config.with_variant(variant)
        else:
            why = "checkpoint layout"
    else:
        variant = config.variant
        why = "config (no checkpoint)"
    names = {GOOGLE: "google-research/albert", ALBERT_ZH: "brightmart/albert_zh"}
    return config, "ALBERT variant: %s (%s), read from the %s" % (variant, names[variant], why)


class AlbertModel(object):
    """ALBERT: factorized embeddings, cross-layer shared post-LN encoder, pooler.

    Example:
      config = AlbertConfig.from_json_file("configs/albert_tiny.json")
      model = AlbertModel(config, is_training=True, input_ids=ids, input_mask=mask,
                          token_type_ids=types)
      pooled = model.get_pooled_output()   # [B, H]
    """

    def __init__(self, config, is_training, input_ids, input_mask=None, token_type_ids=None,
                 use_one_hot_embeddings=False, scope=None):
        """Builds the graph (the variant is config.variant).

        Args:
          config: AlbertConfig.
          is_training: False turns every dropout off.
          input_ids: int32 [B, S]; input_mask: int32 [B, S] (1 = token), default all ones;
          token_type_ids: int32 [B, S], default zeros.
          use_one_hot_embeddings: one-hot matmul for the word embeddings instead of gather.
          scope: variable scope, default "bert".
        """
        config = copy.deepcopy(config).validate()
        if not is_training:
            config.hidden_dropout_prob = 0.0
            config.attention_probs_dropout_prob = 0.0
        self.config = config
        self.variant = config.variant
        input_shape = get_shape_list(input_ids, expected_rank=2)
        batch_size, seq_length = input_shape[0], input_shape[1]
        if isinstance(seq_length, int) and seq_length > config.max_position_embeddings:
            raise ValueError("seq_length %d > max_position_embeddings %d of the albert config"
                             % (seq_length, config.max_position_embeddings))
        if input_mask is None:
            input_mask = tf.ones(shape=[batch_size, seq_length], dtype=tf.int32)
        if token_type_ids is None:
            token_type_ids = tf.zeros(shape=[batch_size, seq_length], dtype=tf.int32)
        self.embedding_projection = None

        with tf.variable_scope(scope, default_name="bert"):
            with tf.variable_scope("embeddings"):
                # [B, S, E], [V, E]
                self.word_embedding_output, self.embedding_table = transformer.embedding_lookup(
                    input_ids=input_ids, vocab_size=config.vocab_size,
                    embedding_size=config.embedding_size,
                    initializer_range=config.initializer_range,
                    word_embedding_name="word_embeddings",
                    use_one_hot_embeddings=use_one_hot_embeddings)
                words = self.word_embedding_output
                if self.variant == ALBERT_ZH:
                    # albert_zh: project to H first (no bias); type/position/LayerNorm in H.
                    self.embedding_projection = tf.get_variable(
                        "word_embeddings_2", [config.embedding_size, config.hidden_size],
                        initializer=transformer.create_initializer(config.initializer_range))
                    words = tf.reshape(
                        tf.matmul(tf.reshape(words, [-1, config.embedding_size]),
                                  self.embedding_projection),
                        [batch_size, seq_length, config.hidden_size])
                # + token type + position embeddings, LayerNorm, dropout: [B, S, E] (albert_zh: H)
                self.embedding_output = transformer.embedding_postprocessor(
                    input_tensor=words, use_token_type=True, token_type_ids=token_type_ids,
                    token_type_vocab_size=config.type_vocab_size,
                    token_type_embedding_name="token_type_embeddings",
                    use_position_embeddings=True, position_embedding_name="position_embeddings",
                    initializer_range=config.initializer_range,
                    max_position_embeddings=config.max_position_embeddings,
                    dropout_prob=config.hidden_dropout_prob)

            with tf.variable_scope("encoder"):
                attention_mask = transformer.create_attention_mask_from_input_mask(
                    input_ids, input_mask)  # [B, S, S]
                if self.variant == GOOGLE:
                    self.all_encoder_layers = _google_encoder(
                        self.embedding_output, attention_mask, config, batch_size, seq_length)
                else:
                    self.all_encoder_layers = _albert_zh_encoder(
                        self.embedding_output, attention_mask, config, batch_size, seq_length)

            self.sequence_output = self.all_encoder_layers[-1]  # [B, S, H]
            with tf.variable_scope("pooler"):
                first_token_tensor = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
                self.pooled_output = transformer.dense(
                    first_token_tensor, config.hidden_size, tf.tanh,
                    transformer.create_initializer(config.initializer_range), name="dense")

    def get_pooled_output(self):
        """float [B, H]: tanh(dense(hidden state of [CLS]))."""
        return self.pooled_output

    def get_sequence_output(self):
        """float [B, S, H]: the output of the last block."""
        return self.sequence_output

    def get_all_encoder_layers(self):
        """list of float [B, S, H]: every block's output (google: num_hidden_layers *
        inner_group_num of them, as the original; albert_zh: num_hidden_layers)."""
        return self.all_encoder_layers

    def get_word_embedding_output(self):
        """float [B, S, E]: the word embedding lookup, before anything is added."""
        return self.word_embedding_output

    def get_embedding_output(self):
        """float [B, S, E] (albert_zh: [B, S, H]): embeddings after LayerNorm (and dropout)."""
        return self.embedding_output

    def get_embedding_table(self):
        """float Variable [V, E]: the word embedding table (tied to the MLM decoder)."""
        return self.embedding_table

    def get_embedding_projection(self):
        """albert_zh's word_embeddings_2 [E, H]; None for the google variant."""
        return self.embedding_projection


def _google_encoder(embedding_output, attention_mask, config, batch_size, seq_length):
    """google-research/albert's transformer_model: E->H mapping, grouped shared blocks."""
    init = transformer.create_initializer(config.initializer_range)
    prev_output = transformer.reshape_to_matrix(embedding_output)  # [B*S, E]
    if config.embedding_size != config.hidden_size:
        prev_output = transformer.dense(prev_output, config.hidden_size, None, init,
                                        name="embedding_hidden_mapping_in")  # [B*S, H]
    act = transformer.get_activation(config.hidden_act)
    outputs = []
    with tf.variable_scope("transformer", reuse=tf.AUTO_REUSE):
        for layer_idx in range(config.num_hidden_layers):
            group_idx = int(layer_idx / config.num_hidden_layers * config.num_hidden_groups)
            with tf.variable_scope("group_%d" % group_idx):
                for inner_idx in range(config.inner_group_num):
                    with tf.variable_scope("inner_group_%d" % inner_idx):
                        prev_output = transformer.transformer_layer(
                            prev_output, attention_mask, batch_size, seq_length,
                            config.hidden_size, config.num_attention_heads,
                            config.intermediate_size, act, config.hidden_dropout_prob,
                            config.attention_probs_dropout_prob, config.initializer_range,
                            names=transformer.ALBERT_LAYER_NAMES)
                        outputs.append(prev_output)
    return [tf.reshape(out, [batch_size, seq_length, config.hidden_size]) for out in outputs]


def _albert_zh_encoder(embedding_output, attention_mask, config, batch_size, seq_length):
    """brightmart/albert_zh's post-LN transformer_model: one BERT layer `layer_shared` reused."""
    act = transformer.get_activation(config.hidden_act)
    prev_output = transformer.reshape_to_matrix(embedding_output)  # [B*S, H]
    outputs = []
    for layer_idx in range(config.num_hidden_layers):
        with tf.variable_scope("layer_shared", reuse=layer_idx > 0):
            prev_output = transformer.transformer_layer(
                prev_output, attention_mask, batch_size, seq_length, config.hidden_size,
                config.num_attention_heads, config.intermediate_size, act,
                config.hidden_dropout_prob, config.attention_probs_dropout_prob,
                config.initializer_range, names=transformer.BERT_LAYER_NAMES)
            outputs.append(prev_output)
    return [tf.reshape(out, [batch_size, seq_length, config.hidden_size]) for out in outputs]


def get_masked_lm_output(config, model, positions, label_ids, label_weights):
    """The variant's MLM head. google: transform H->E, LayerNorm(E), x word_embeddings^T;
    albert_zh: transform H->H, LayerNorm(H), x word_embeddings_2^T x word_embeddings^T.
    Returns (loss, per_example_loss [B*P], log_probs [B*P, V])."""
    width = config.embedding_size if model.variant == GOOGLE else config.hidden_size
    return transformer.masked_lm_output(
        model.get_sequence_output(), model.get_embedding_table(), positions, label_ids,
        label_weights, hidden_size=width, hidden_act=config.hidden_act,
        initializer_range=config.initializer_range,
        output_projection=model.get_embedding_projection())


def get_sentence_order_output(config, model, labels):
    """SOP head on the pooled output (cls/seq_relationship; 1 = segments swapped).
    Returns (loss, per_example_loss [B], log_probs [B, 2])."""
    return transformer.next_sentence_output(model.get_pooled_output(), labels,
                                            hidden_size=config.hidden_size,
                                            initializer_range=config.initializer_range)
