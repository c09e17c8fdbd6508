"""The experiment's material: task catalogue, task files, behaviour properties and the prompts
sent."""
