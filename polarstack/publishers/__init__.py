"""Where results go: the cluster (:mod:`.kube`) or local JSON (:mod:`.local`), one interface."""
