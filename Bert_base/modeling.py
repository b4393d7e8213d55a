# coding=utf-8
"""BERT (google-research/bert) on the shared transformer blocks of common/transformer.py.

Variable names and shapes are the original's, so official checkpoints load unchanged:

  bert/embeddings/word_embeddings                    [V, W]
  bert/embeddings/token_type_embeddings              [type_vocab_size, W]
  bert/embeddings/position_embeddings                [max_position_embeddings, W]
  bert/embeddings/LayerNorm/{gamma,beta}             [W]
  bert/encoder/layer_{i}/attention/self/{query,key,value}/{kernel [W, W], bias [W]}
  bert/encoder/layer_{i}/attention/output/dense/{kernel [W, W], bias}
  bert/encoder/layer_{i}/attention/output/LayerNorm/{gamma,beta}
  bert/encoder/layer_{i}/intermediate/dense/{kernel [W, I], bias [I]}
  bert/encoder/layer_{i}/output/dense/{kernel [I, W], bias [W]}
  bert/encoder/layer_{i}/output/LayerNorm/{gamma,beta}
  bert/pooler/dense/{kernel [W, W], bias [W]}

With `use_relative_positions` (NEZHA), position_embeddings is absent and every attention layer
adds parameter-free functional relative position encodings instead.
"""

import copy
import json
import os

import six
import tensorflow.compat.v1 as tf

from common import transformer
from common.checkpoint_utils import get_assignment_map_from_checkpoint  # noqa: F401 (re-export)
from common.transformer import gelu, get_activation, get_shape_list  # noqa: F401 (re-export)


class BertConfig(object):
    """Configuration of a BertModel (the fields of bert_config.json)."""

    def __init__(self, vocab_size, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1, max_position_embeddings=512,
                 type_vocab_size=16, initializer_range=0.02, use_relative_positions=False,
                 max_relative_position=64):
        """Constructs a BertConfig.

        Args:
          vocab_size: size of `input_ids` vocabulary (V).
          hidden_size: width W of the encoder layers and the pooler.
          num_hidden_layers: number of encoder layers.
          num_attention_heads: heads per attention layer (W must be a multiple of it).
          intermediate_size: width I of the feed-forward layer.
          hidden_act: activation of the feed-forward layer ("gelu" = tanh approximation).
          hidden_dropout_prob: dropout of embeddings, attention output, FFN output.
          attention_probs_dropout_prob: dropout of the attention probabilities.
          max_position_embeddings: longest sequence the model can take.
          type_vocab_size: vocabulary size of `token_type_ids`.
          initializer_range: stddev of the truncated normal initializer.
          use_relative_positions: NEZHA functional relative positions instead of absolute ones.
          max_relative_position: clipping distance of the relative positions.
        """
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_act = hidden_act
        self.intermediate_size = intermediate_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.use_relative_positions = use_relative_positions
        self.max_relative_position = max_relative_position

    @classmethod
    def from_dict(cls, json_object):
        """Constructs a BertConfig from a dict; unknown keys are kept as attributes."""
        config = BertConfig(vocab_size=None)
        for (key, value) in six.iteritems(json_object):
            config.__dict__[key] = value
        if not config.vocab_size:
            raise ValueError("bert config has no vocab_size")
        if config.hidden_size % config.num_attention_heads != 0:
            raise ValueError("bert config: hidden_size %d is not a multiple of "
                             "num_attention_heads %d" % (config.hidden_size,
                                                         config.num_attention_heads))
        return config

    @classmethod
    def from_json_file(cls, json_file):
        """Constructs a BertConfig from a json file; clear errors for a missing or bad file."""
        if not json_file or not os.path.isfile(json_file):
            raise FileNotFoundError("bert_config_file not found: %s" % (json_file,))
        with open(json_file, "r", encoding="utf-8") as reader:
            text = reader.read()
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ValueError("bert_config_file %s is not valid JSON: %s" % (json_file, err))
        return cls.from_dict(data)

    def to_dict(self):
        """Serializes this instance to a Python dictionary."""
        return copy.deepcopy(self.__dict__)

    def to_json_string(self):
        """Serializes this instance to a JSON string."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


class BertModel(object):
    """BERT: embeddings, post-LN transformer encoder, pooler.

    Example:
      input_ids = tf.constant([[31, 51, 99], [15, 5, 0]])
      input_mask = tf.constant([[1, 1, 1], [1, 1, 0]])
      token_type_ids = tf.constant([[0, 0, 1], [0, 2, 0]])
      config = BertConfig(vocab_size=32000, hidden_size=512, num_hidden_layers=8,
                          num_attention_heads=8, intermediate_size=1024)
      model = BertModel(config, is_training=True, input_ids=input_ids,
                        input_mask=input_mask, token_type_ids=token_type_ids)
      pooled = model.get_pooled_output()   # [2, 512]
    """

    def __init__(self, config, is_training, input_ids, input_mask=None, token_type_ids=None,
                 use_one_hot_embeddings=False, scope=None):
        """Builds the graph.

        Args:
          config: BertConfig.
          is_training: False turns every dropout off.
          input_ids: int32 Tensor [B, S].
          input_mask: optional int32 Tensor [B, S] (1 = token, 0 = padding); default all ones.
          token_type_ids: optional int32 Tensor [B, S]; default all zeros.
          use_one_hot_embeddings: one-hot matmul for the word embeddings instead of gather.
          scope: variable scope, default "bert".
        Raises:
          ValueError: S > config.max_position_embeddings or inconsistent config.
        """
        config = copy.deepcopy(config)
        if not is_training:
            config.hidden_dropout_prob = 0.0
            config.attention_probs_dropout_prob = 0.0

        input_shape = get_shape_list(input_ids, expected_rank=2)
        batch_size, seq_length = input_shape[0], input_shape[1]
        if isinstance(seq_length, int) and seq_length > config.max_position_embeddings:
            raise ValueError("seq_length %d > max_position_embeddings %d of the bert config"
                             % (seq_length, config.max_position_embeddings))
        if input_mask is None:
            input_mask = tf.ones(shape=[batch_size, seq_length], dtype=tf.int32)
        if token_type_ids is None:
            token_type_ids = tf.zeros(shape=[batch_size, seq_length], dtype=tf.int32)
        use_relative = bool(getattr(config, "use_relative_positions", False))

        with tf.variable_scope(scope, default_name="bert"):
            with tf.variable_scope("embeddings"):
                # [B, S, W], [V, W]
                self.embedding_output, self.embedding_table = transformer.embedding_lookup(
                    input_ids=input_ids, vocab_size=config.vocab_size,
                    embedding_size=config.hidden_size,
                    initializer_range=config.initializer_range,
                    word_embedding_name="word_embeddings",
                    use_one_hot_embeddings=use_one_hot_embeddings)
                # + token type (+ absolute position), LayerNorm, dropout: [B, S, W]
                self.embedding_output = transformer.embedding_postprocessor(
                    input_tensor=self.embedding_output, use_token_type=True,
                    token_type_ids=token_type_ids, token_type_vocab_size=config.type_vocab_size,
                    token_type_embedding_name="token_type_embeddings",
                    use_position_embeddings=not use_relative,
                    position_embedding_name="position_embeddings",
                    initializer_range=config.initializer_range,
                    max_position_embeddings=config.max_position_embeddings,
                    dropout_prob=config.hidden_dropout_prob)

            with tf.variable_scope("encoder"):
                attention_mask = transformer.create_attention_mask_from_input_mask(
                    input_ids, input_mask)  # [B, S, S]
                # list of num_hidden_layers Tensors [B, S, W]
                self.all_encoder_layers = transformer.transformer_model(
                    input_tensor=self.embedding_output, attention_mask=attention_mask,
                    hidden_size=config.hidden_size,
                    num_hidden_layers=config.num_hidden_layers,
                    num_attention_heads=config.num_attention_heads,
                    intermediate_size=config.intermediate_size,
                    intermediate_act_fn=get_activation(config.hidden_act),
                    hidden_dropout_prob=config.hidden_dropout_prob,
                    attention_probs_dropout_prob=config.attention_probs_dropout_prob,
                    initializer_range=config.initializer_range,
                    do_return_all_layers=True,
                    use_relative_positions=use_relative,
                    max_relative_position=getattr(config, "max_relative_position", 64))

            self.sequence_output = self.all_encoder_layers[-1]  # [B, S, W]
            with tf.variable_scope("pooler"):
                # The hidden state of the first token ([CLS]) -> dense + tanh: [B, W]
                first_token_tensor = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
                self.pooled_output = transformer.dense(
                    first_token_tensor, config.hidden_size, tf.tanh,
                    transformer.create_initializer(config.initializer_range), name="dense")

    def get_pooled_output(self):
        """float Tensor [B, W]: tanh(dense(hidden state of [CLS]))."""
        return self.pooled_output

    def get_sequence_output(self):
        """float Tensor [B, S, W]: the final encoder layer."""
        return self.sequence_output

    def get_all_encoder_layers(self):
        """list of float Tensors [B, S, W], one per encoder layer."""
        return self.all_encoder_layers

    def get_embedding_output(self):
        """float Tensor [B, S, W]: embeddings after LayerNorm (and dropout when training)."""
        return self.embedding_output

    def get_embedding_table(self):
        """float Variable [V, W]: the word embedding table (tied to the MLM decoder)."""
        return self.embedding_table
