"""A downstream project's conftest: this one line gives the lab's fixtures."""

pytest_plugins = ["lab.pytest_plugin"]  # (also loaded without it, unless plugin autoload is off)
