"""
============================================
Sparse word counts end to end
============================================

Bag-of-words matrices, user-item interactions and gene counts are wide,
mostly zero, and stored as :mod:`scipy.sparse` matrices.
:class:`skvae.VAETransformer` takes them as they are: ``fit``, ``transform``
and ``score_samples`` read only the stored values, batch by batch, and never
build a dense copy. This example generates documents from a few topics,
fits the multinomial likelihood of Mult-VAE (Liang et al., 2018) to their word
counts, maps the documents to two dimensions, and uses ``score_samples`` to
tell real documents from documents of random words.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy import sparse

from skvae import VAETransformer

# %%
# Documents made of topics
# ------------------------
# Each of four topics is a distribution over a vocabulary of 2,000 words, and
# each document mixes the topics in its own proportions. A document is a list
# of word draws; its row of the count matrix stores how often each word was
# drawn. Building the matrix from (document, word) pairs adds up repeated
# words and never holds a dense row.

rng = np.random.RandomState(0)
n_words, n_topics = 2_000, 4
topics = rng.dirichlet(np.full(n_words, 0.02), size=n_topics)


def documents(n_docs, word_probabilities):
    """Sparse counts of ``n_docs`` documents, each row of words drawn from ``p``."""
    lengths = rng.poisson(80, size=n_docs) + 1
    doc_ids = np.repeat(np.arange(n_docs), lengths)
    words = np.concatenate(
        [
            rng.choice(n_words, size=length, p=p)
            for length, p in zip(lengths, word_probabilities, strict=True)
        ]
    )
    pairs = (np.ones(len(words)), (doc_ids, words))
    return sparse.coo_array(pairs, shape=(n_docs, n_words)).tocsr()


mixtures = rng.dirichlet(np.full(n_topics, 0.2), size=3_000)
X = documents(3_000, mixtures @ topics)
X_train, X_test = X[:2_500], X[2_500:]
density = X.nnz / np.prod(X.shape)
print(f"{X.format} array of shape {X.shape}: {X.nnz} stored counts ({density:.1%})")

# %%
# Fit and encode
# --------------
# ``likelihood="multinomial"`` models how each document's words are shared
# among the vocabulary, given its length: the decoder ends in a softmax over
# the 2,000 words. The encoder sees ``log1p`` of the counts.

vae = VAETransformer(
    latent_dim=2,
    likelihood="multinomial",
    hidden_layer_sizes=(128,),
    random_state=0,
).fit(X_train)
Z = vae.transform(X_test)

# %%
# ``score_samples`` is each document's log-probability in nats. To compare
# documents of different lengths it is divided by the number of words. The
# decoy documents have the same lengths as the test documents but draw every
# word from the corpus's overall word frequencies, with no topic behind them.

word_frequencies = np.asarray(X_train.sum(axis=0)).ravel() / X_train.sum()
decoys = documents(X_test.shape[0], np.tile(word_frequencies, (X_test.shape[0], 1)))
per_word = {
    "test documents": vae.score_samples(X_test) / X_test.sum(axis=1),
    "random words": vae.score_samples(decoys) / decoys.sum(axis=1),
}

fig, (map_ax, score_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
points = map_ax.scatter(
    Z[:, 0], Z[:, 1], c=mixtures[2_500:].argmax(axis=1), cmap="viridis", s=8
)
map_ax.set(title="transform(X_test): 2-D codes", xlabel="z0", ylabel="z1")
fig.colorbar(points, ax=map_ax, label="main topic", ticks=range(n_topics))
for label, scores in per_word.items():
    score_ax.hist(scores, bins=40, alpha=0.6, label=label)
score_ax.set(
    title="score_samples / number of words",
    xlabel="log-likelihood per word (nats)",
    ylabel="documents",
)
score_ax.legend()
fig.tight_layout()
plt.show()

# %%
# Documents with the same main topic share a corner of the map, and mixed
# documents sit between the corners. The scores tell most real documents from
# the decoys: a document whose words come from a few topics is more probable
# under the model than one of the same length whose words are common but
# unrelated. The two histograms overlap where real documents spread over several
# topics, which makes their words look like the corpus average. Low
# ``score_samples`` mark unusual rows in the same way on any data.
