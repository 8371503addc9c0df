"""The kubectl side of dexpy: the `dexpy login` exec-credential plugin and the `dexpy kubeconfig` writer."""
