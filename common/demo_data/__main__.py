"""python -m common.demo_data NAME: print the folder of an embedded data set (built if needed)."""
import sys

from common.demo_data import DATASETS, prepare


def main(argv):
    """Print the folder of data set argv[0] (built first when needed); usage errors exit 2."""
    if len(argv) != 1 or argv[0] not in DATASETS:
        print("usage: python -m common.demo_data NAME\n" + "\n".join(
            "  %-16s %s" % (k, v[1]) for k, v in sorted(DATASETS.items())), file=sys.stderr)
        return 2
    print(prepare(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
