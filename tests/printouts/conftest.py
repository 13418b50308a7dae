from __future__ import annotations

import pytest

from printouts import BadgeData

# Names a workshop in Lagos, Hanoi, Nairobi, Abidjan, Cairo, Athens, Kazan or New York prints.
UNICODE_NAMES = {
    "yoruba": "Adébáyọ̀ Ọlápọ̀",
    "vietnamese": "Nguyễn Thị Hồng Nhung",
    "greek": "Αλέξανδρος Παπαδόπουλος",
    "cyrillic": "Юлия Смирнова",
    "arabic": "محمد عبد الله",
    "french": "Kouadio Aya Marie-Ange",
}


@pytest.fixture
def unicode_badges() -> list[BadgeData]:
    return [
        BadgeData(name=name, url=f"https://kit.example.org/b/{key}-7Hq2Lm9Xp4Rt", role=role)
        for (key, name), role in zip(
            UNICODE_NAMES.items(),
            ["participant", "trainer", "mentor", "guest", "participant", "participant"],
            strict=True,
        )
    ]
