# ResNext50's part of the delivery contract, sourced after common/scripts/delivery.sh (never run).
#
# resnext_setup: after delivery_parse_args, fills the defaults left empty by the calling script:
#   --data_path given (ImageNet-format TFRecords): the delivery's defaults - 224x224, learning
#       rate 0.1, 120 epochs (full) / 1000 steps (performance), iterations_per_loop 1000 (full) /
#       100 (performance); the classes are --num_classes, else the converter's dataset_info.json
#       in --data_path says them, else ImageNet's 1000 (run_resnext50.py decides).
#   no --data_path: the EMBEDDED DEMO - scikit-learn's 1,797 digits as ImageNet-format TFRecords
#       (ResNext50/demo_images.py), 10 classes, at 32x32 so that the full ResNeXt-50 trains on a
#       2-core CPU in minutes (about 110 images/s fp32 on an idle 2-core CPU; much less when the
#       machine is shared): learning rate 0.02, crops of at least 50% of the image (the digits fill
#       the frame), 1 warm-up epoch, 6 epochs (full) / 60 steps (performance), a step line every
#       20 / 10 steps.
#   --model_path / --ckpt_path: passed as --restore_path (transfer learning; --restore_exclude
#       defaults to the classifier fp32_vars/dense), e.g. a torchvision/timm checkpoint converted
#       by ResNext50/convert_torch_checkpoint.py.
#   --preprocessing=delivery|torchvision: the evaluation input pipeline (run_resnext50.py).
# Sets the array RESNEXT_FLAGS (data and model flags for run_resnext50.py).

resnext_setup() {
    if [ -n "$data_path" ]; then
        image_size=${image_size:-224}
        learning_rate=${learning_rate:-0.1} num_epochs=${num_epochs:-120}
        if [ "$RUN_KIND" = perf ]; then train_steps=${train_steps:-1000}; iterations_per_loop=${iterations_per_loop:-100}
        else iterations_per_loop=${iterations_per_loop:-1000}; fi
        RESNEXT_FLAGS=(--data_url="$data_path" --task_name=ImageNet)
    else
        delivery_demo_data resnext_digits ResNext50.demo_images || return 1
        num_classes=${num_classes:-10} image_size=${image_size:-32}
        learning_rate=${learning_rate:-0.02} num_epochs=${num_epochs:-6}
        if [ "$RUN_KIND" = perf ]; then train_steps=${train_steps:-60}; iterations_per_loop=${iterations_per_loop:-10}
        else iterations_per_loop=${iterations_per_loop:-20}; fi
        delivery_note "EMBEDDED DEMO: full ResNeXt-50 (25M parameters) on scikit-learn's digits at ${image_size}x${image_size}, $num_classes classes (ImageNet runs use 224x224)"
        RESNEXT_FLAGS=(--data_url="$data_path" --task_name=digits_embedded_demo --min_crop_area=0.5 --warmup_epochs=1)
    fi
    RESNEXT_FLAGS+=(--image_size="$image_size")
    [ -z "$num_classes" ] || RESNEXT_FLAGS+=(--num_classes="$num_classes")
    [ -z "${preprocessing:-}" ] || RESNEXT_FLAGS+=(--preprocessing="$preprocessing")
    [ -z "$model_path" ] || RESNEXT_FLAGS+=(--restore_path="$model_path")
    [ -z "${restore_exclude:-}" ] || RESNEXT_FLAGS+=(--restore_exclude="$restore_exclude")
    return 0
}
