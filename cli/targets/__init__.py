"""Where ftk's verbs act: a Pulumi stack's resources, AI Toolkit config files, or a local folder."""
