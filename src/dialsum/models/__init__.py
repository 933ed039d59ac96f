"""Model families (kobart, kogpt2, t5, mt5): tokenizers and models, pretrained or tiny from scratch."""
