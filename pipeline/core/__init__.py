"""What every stage shares, and imports whole: the paths and constants (``config``), the errors,
the environment check, ``params.yaml``'s contract, atomic storage and the stage runner.

Every stage imports every module here, so ``dvc.yaml`` lists this directory once per stage
instead of each file (tests/test_dvc_yaml.py keeps it that way): a change to any of them
reruns every stage, exactly as it would with the files listed one by one.
"""
