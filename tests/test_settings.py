import pytest

from mtl_hf.settings import SettingsError, parse_settings, read_config_file


def test_yaml_sections_and_overrides(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("model:\n  model: micro\n  from_scratch: true\ntraining:\n  num_train_epochs: 4\n  seed: 7\n")

    settings = parse_settings(config, ["--num_train_epochs", "2", "--data", "x.csv"])

    assert settings.model.model == "micro"
    assert settings.model.from_scratch
    assert settings.training.num_train_epochs == 2
    assert settings.training.seed == 7
    assert settings.data.data == "x.csv"


def test_unknown_yaml_option_suggests_name(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("num_train_epoch: 3\n")
    with pytest.raises(SettingsError, match="unknown option 'num_train_epoch'.*'num_train_epochs'"):
        read_config_file(config)


def test_missing_config_file_named(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        read_config_file(tmp_path / "absent.yaml")


def test_unknown_command_line_option_rejected():
    with pytest.raises(SettingsError, match="--epochs"):
        parse_settings(None, ["--epochs", "3"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--validation_fraction", "1.5"], "validation_fraction"),
        (["--validation_fraction", "0.5", "--test_fraction", "0.5"], "sum must be below 1"),
        (["--max_length", "0"], "max_length"),
        (["--lora_r", "-1"], "lora_r"),
    ],
)
def test_invalid_values_name_the_option(overrides, message):
    with pytest.raises(SettingsError, match=message):
        parse_settings(None, overrides)


def test_settings_round_trip_through_yaml(tmp_path):
    import yaml

    settings = parse_settings(None, ["--data", "x.csv", "--model", "micro", "--lora_r", "4"])
    path = tmp_path / "resolved.yaml"
    path.write_text(yaml.safe_dump(settings.to_dict()))

    again = parse_settings(path)

    assert again.model == settings.model
    assert again.data == settings.data
    assert again.training.learning_rate == settings.training.learning_rate


def test_saved_settings_keep_requested_device_options():
    settings = parse_settings(None, ["--data", "x.csv"])
    saved = settings.to_dict()["training"]
    assert saved["use_cpu"] is False
    assert saved["dataloader_pin_memory"] is True
