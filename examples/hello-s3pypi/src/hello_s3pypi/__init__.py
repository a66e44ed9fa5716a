"""A sample package: installed from a private index, it says where it came from."""


def main() -> None:
    print("Hello from a private package index!")
