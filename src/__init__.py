"""Deep active learning on realistic unlabeled pools (Kim, Kim & Hwang)."""
