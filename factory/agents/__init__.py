"""The four agents (CodeGen, TestGen, Healer, Deployer): each is a prompt, a reply model and one call."""
