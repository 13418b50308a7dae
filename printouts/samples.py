"""Sample data for previews and the ``sample`` command: names from the places the
workshops run, in their own scripts, and a drawn logo and signature."""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageDraw

from .data import BadgeData, CertificateData, KitCardData, KitCardLine, KitLabelData, Signatory

__all__ = [
    "sample_badges",
    "sample_certificates",
    "sample_kit_cards",
    "sample_kit_labels",
    "sample_logo_png",
]

_PEOPLE = [
    ("Adébáyọ̀ Ọlápọ̀", "Lagos Robotics Club", "trainer"),
    ("Nguyễn Thị Hồng Nhung", "Hanoi Makerspace", "participant"),
    ("Wanjiru Kamau", "Nairobi Girls in STEM", "mentor"),
    ("Kouadio Aya Marie-Ange", "Lycée Moderne d'Abidjan", "participant"),
    ("محمد عبد الله", "Cairo AI Society", "participant"),
    ("Αλέξανδρος Παπαδόπουλος", "Athens Robotics", "guest"),
    ("Юлия Смирнова", "Kazan Tech School", "participant"),
    ("Jordan Rivera-Washington", "Bronx Community College", "participant"),
]


def sample_logo_png(text: str = "KIT", colour: str = "#1f6fb2") -> bytes:
    """A small PNG logo drawn on the fly (a rounded square with ``text``)."""
    image = Image.new("RGBA", (240, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 236, 116), radius=24, fill=colour)
    draw.text((120, 60), text, fill="white", anchor="mm", font_size=64)
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _signature_png(seed: int) -> bytes:
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(20 + i * 26, 60 + ((i * 37 + seed * 11) % 40) - 20) for i in range(11)]
    draw.line(points, fill=(20, 30, 90, 255), width=4, joint="curve")
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sample_badges(count: int = 8) -> list[BadgeData]:
    """``count`` badges cycling through the sample people."""
    badges = []
    for i in range(count):
        name, organisation, role = _PEOPLE[i % len(_PEOPLE)]
        badges.append(
            BadgeData(
                name=name,
                url=f"https://kit.example.org/b/{i:04d}-q7Lm2Xp9Rt5Vw8Yb",
                organisation=organisation,
                role=role,
                team=f"Team {1 + i % 4}",
                workshop="Robotics & AI Bootcamp 2026",
            )
        )
    return badges


def sample_kit_labels(count: int = 8) -> list[KitLabelData]:
    """``count`` kit labels with a few components each."""
    parts = ["Arduino Uno R3", "USB cable A-B", "HC-SR04 ultrasonic sensor", "2 × DC motor"]
    parts += ["L298N motor driver", "Battery box 4 × AA", "Jumper wires (20)"]
    return [
        KitLabelData(
            code=f"KIT-{i + 1:03d}",
            url=f"https://kit.example.org/k/KIT-{i + 1:03d}-x4Tq",
            kit_type="Line-follower robot kit",
            components=parts[: 3 + i % 5],
        )
        for i in range(count)
    ]


def sample_kit_cards(count: int = 4) -> list[KitCardData]:
    """``count`` contents cards of a line-follower kit, consumables included."""
    parts = [
        KitCardLine("Arduino Uno R3"),
        KitCardLine("USB cable A-B"),
        KitCardLine("HC-SR04 ultrasonic sensor"),
        KitCardLine("DC motor with wheel", 2),
        KitCardLine("L298N motor driver"),
        KitCardLine("Battery box 4 × AA"),
        KitCardLine("AA battery", 4, must_return=False),
        KitCardLine("Jumper wires", 20, must_return=False),
    ]
    return [
        KitCardData(
            code=f"KIT-{i + 1:03d}",
            url=f"https://kit.example.org/k/KIT-{i + 1:03d}-x4Tq",
            kit_type="Line-follower robot kit",
            components=parts,
        )
        for i in range(count)
    ]


def sample_certificates(count: int = 2) -> list[CertificateData]:
    """``count`` certificates with two signatories and a logo."""
    logo = sample_logo_png()
    signatories = (
        Signatory("Grace Wanjiku", "Lead trainer", _signature_png(1)),
        Signatory("Koffi N'Guessan", "Workshop organiser", _signature_png(2)),
    )
    return [
        CertificateData(
            name=_PEOPLE[i % len(_PEOPLE)][0],
            workshop_title="Robotics & AI Bootcamp 2026",
            dates_text="3–7 August 2026, Nairobi",
            hours=32,
            verification_url=f"https://kit.example.org/verify/C26-{i:05d}",
            verification_page="kit.example.org/verify",
            code=f"C26-{i:05d}",
            body_text="Built and programmed a line-following robot, trained an image "
            "classifier and presented a team project.",
            signatories=signatories,
            logo=logo,
        )
        for i in range(count)
    ]
