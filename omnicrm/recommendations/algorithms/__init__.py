"""Pure recommendation algorithms: numpy/scipy in, numpy/scipy out, no Django.

Every personal model here produces the same thing, a sparse item x item weight matrix ``W``
(rows = the customer's items, the "causes"; columns = candidate items), so serving and the
explanation of a score are the same for all of them (see ``scoring.score_history``).
"""
