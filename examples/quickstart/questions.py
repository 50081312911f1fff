"""Questions with reference answers and the document each answer comes from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    text: str
    reference: str
    source: str


QUESTIONS = [
    Question("What peak efficiency does the Helios inverter reach?",
             "It reaches a peak efficiency of 97.6 percent at half load.", "solar"),
    Question("How much energy does the Vesta battery store?",
             "The Vesta battery stores 13.5 kilowatt hours.", "battery"),
    Question("How often does the Argus meter send readings to the utility?",
             "Every fifteen minutes, over a cellular modem.", "meter"),
    Question("How many cycles does the battery warranty cover?",
             "6000 cycles or ten years, whichever comes first.", "battery"),
    Question("How fast does the inverter disconnect when the grid fails?",
             "Within 200 milliseconds.", "solar"),
    Question("What does a blinking amber light on the meter mean?",
             "The meter has lost contact with the utility for more than an hour.", "meter"),
    Question("What clearance do installers need above the inverter?",
             "30 centimetres of clearance above the unit.", "solar"),
    Question("When does the battery refuse to charge?",
             "Below minus ten degrees Celsius, until its heater has warmed the cells.", "battery"),
]
