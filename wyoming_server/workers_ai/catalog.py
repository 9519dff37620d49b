"""The Workers AI speech model catalog.

Every speech model this project serves, with what a client needs to call it: task, transports,
request convention, languages, speakers and price. Facts come from the model pages
(https://developers.cloudflare.com/workers-ai/models/) and the pricing page
(https://developers.cloudflare.com/workers-ai/platform/pricing/), corrected by live probes
where Workers AI differs from them (MeloTTS languages and output format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Task(StrEnum):
    """What a model does."""

    ASR = "automatic-speech-recognition"
    TTS = "text-to-speech"


class InputConvention(StrEnum):
    """How a model's REST request body is built (each model's page,
    https://developers.cloudflare.com/workers-ai/models/)."""

    RAW_AUDIO = "raw-audio"
    """Body is the audio file as-is (whisper, whisper-tiny-en)."""
    BASE64_JSON = "base64-json"
    """JSON ``{"audio": "<base64>", "language": ..., ...}`` (whisper-large-v3-turbo)."""
    RAW_AUDIO_QUERY_OPTIONS = "raw-audio-query-options"
    """Body is the audio file, ``Content-Type`` its MIME type, options in the query (nova-3)."""
    WEBSOCKET_PCM = "websocket-pcm"
    """No REST form: linear16 PCM frames over the WebSocket (flux)."""
    TEXT_JSON_AUDIO_BODY = "text-json-audio-body"
    """JSON ``{"text", "speaker", "encoding", ...}``; the response body is raw audio (aura)."""
    PROMPT_JSON_BASE64_MP3 = "prompt-json-base64-mp3"
    """JSON ``{"prompt", "lang"}``; the response envelope carries base64 audio (melotts: WAV,
    although its schema says MP3)."""


USD_PER_1000_NEURONS = 0.011
"""What 1,000 neurons cost beyond the free allocation
(https://developers.cloudflare.com/workers-ai/platform/pricing/)."""


@dataclass(frozen=True, slots=True)
class Price:
    """List price in neurons per ``unit``, as Cloudflare publishes it next to the US dollars
    (https://developers.cloudflare.com/workers-ai/platform/pricing/, "Audio model pricing")."""

    neurons: float
    unit: str  # "audio minute" or "1k characters"
    websocket_neurons: float | None = None

    @property
    def usd(self) -> float:
        """US dollars per ``unit``."""
        return self.neurons * USD_PER_1000_NEURONS / 1000

    @property
    def websocket_usd(self) -> float | None:
        """US dollars per ``unit`` over the WebSocket, when it costs differently."""
        if self.websocket_neurons is None:
            return None
        return self.websocket_neurons * USD_PER_1000_NEURONS / 1000

    def __str__(self) -> str:
        text = f"${self.usd:.2g} per {self.unit}"
        if self.websocket_usd is not None:
            text += f" (WebSocket ${self.websocket_usd:.2g})"
        return text


@dataclass(frozen=True, slots=True)
class SpeechModel:
    """One Workers AI speech model.

    ``languages`` are BCP-47 / ISO 639-1 codes the model accepts. For TTS, ``speakers`` is the
    ``speaker`` enum of the input schema (empty when the model has none) and ``default_speaker``
    the schema default.
    """

    model_id: str
    task: Task
    display_name: str
    vendor: str
    vendor_url: str
    input: InputConvention
    rest: bool
    websocket: bool
    languages: tuple[str, ...]
    price: Price | None
    speakers: tuple[str, ...] = ()
    default_speaker: str | None = None
    beta: bool = False
    max_text_chars: int | None = None
    """TTS: longest text one request takes (characters); longer text is split (text.py)."""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def short_name(self) -> str:
        """The model ID without its ``@cf/<vendor>/`` prefix, e.g. ``aura-2-en``."""
        return self.model_id.rsplit("/", 1)[-1]

    @property
    def streaming(self) -> bool:
        """True when the model can be driven incrementally over a WebSocket."""
        return self.websocket


# Whisper's language codes (openai/whisper tokenizer LANGUAGES, including "yue" from large-v3).
WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw",
    "he", "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn",
    "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt",
    "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si",
    "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl",
    "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "yue", "zh",
)  # fmt: skip

# Nova-3 languages (https://developers.cloudflare.com/workers-ai/models/nova-3/). "multi"
# (automatic multilingual) is a mode, not listed.
NOVA3_LANGUAGES: tuple[str, ...] = (
    "en", "en-US", "en-AU", "en-GB", "en-IN", "en-NZ", "es", "es-419", "fr", "fr-CA", "de",
    "de-CH", "hi", "ru", "pt", "pt-BR", "pt-PT", "ja", "it", "nl",
)  # fmt: skip

AURA_1_SPEAKERS: tuple[str, ...] = (
    "angus", "asteria", "arcas", "orion", "orpheus", "athena", "luna", "zeus", "perseus",
    "helios", "hera", "stella",
)  # fmt: skip
AURA_2_EN_SPEAKERS: tuple[str, ...] = (
    "amalthea", "andromeda", "apollo", "arcas", "aries", "asteria", "athena", "atlas", "aurora",
    "callista", "cora", "cordelia", "delia", "draco", "electra", "harmonia", "helena", "hera",
    "hermes", "hyperion", "iris", "janus", "juno", "jupiter", "luna", "mars", "minerva",
    "neptune", "odysseus", "ophelia", "orion", "orpheus", "pandora", "phoebe", "pluto",
    "saturn", "thalia", "theia", "vesta", "zeus",
)  # fmt: skip
AURA_2_ES_SPEAKERS: tuple[str, ...] = (
    "sirio", "nestor", "carina", "celeste", "alvaro", "diana", "aquila", "selena", "estrella",
    "javier",
)  # fmt: skip
# MeloTTS languages Workers AI accepts: live probes got audio for en, zh, ja, ko (lower case)
# and 404/8002 "Invalid input" for es and fr, although upstream MeloTTS speaks them.
MELOTTS_LANGUAGES: tuple[str, ...] = ("en", "zh", "ja", "ko")

WHISPER = "@cf/openai/whisper"
WHISPER_LARGE_V3_TURBO = "@cf/openai/whisper-large-v3-turbo"
WHISPER_TINY_EN = "@cf/openai/whisper-tiny-en"
NOVA_3 = "@cf/deepgram/nova-3"
FLUX = "@cf/deepgram/flux"
AURA_1 = "@cf/deepgram/aura-1"
AURA_2_EN = "@cf/deepgram/aura-2-en"
AURA_2_ES = "@cf/deepgram/aura-2-es"
MELOTTS = "@cf/myshell-ai/melotts"

_OPENAI = ("OpenAI", "https://openai.com/research/whisper")
_DEEPGRAM = ("Deepgram", "https://deepgram.com")
_MYSHELL = ("MyShell.ai", "https://github.com/myshell-ai/MeloTTS")

MODELS: dict[str, SpeechModel] = {
    m.model_id: m
    for m in (
        SpeechModel(
            WHISPER, Task.ASR, "Whisper", *_OPENAI, InputConvention.RAW_AUDIO,
            rest=True, websocket=False, languages=WHISPER_LANGUAGES,
            price=Price(41.14, "audio minute"),
        ),
        SpeechModel(
            WHISPER_LARGE_V3_TURBO, Task.ASR, "Whisper large v3 turbo", *_OPENAI,
            InputConvention.BASE64_JSON, rest=True, websocket=False,
            languages=WHISPER_LANGUAGES, price=Price(46.63, "audio minute"),
        ),
        SpeechModel(
            WHISPER_TINY_EN, Task.ASR, "Whisper tiny (English)", *_OPENAI,
            InputConvention.RAW_AUDIO, rest=True, websocket=False, languages=("en",),
            price=None, beta=True,
        ),
        SpeechModel(
            NOVA_3, Task.ASR, "Nova-3", *_DEEPGRAM, InputConvention.RAW_AUDIO_QUERY_OPTIONS,
            rest=True, websocket=True, languages=NOVA3_LANGUAGES,
            price=Price(472.73, "audio minute", websocket_neurons=836.36),
        ),
        SpeechModel(
            FLUX, Task.ASR, "Flux", *_DEEPGRAM, InputConvention.WEBSOCKET_PCM,
            rest=False, websocket=True, languages=("en",),
            price=Price(700.00, "audio minute"),
        ),
        SpeechModel(
            AURA_1, Task.TTS, "Aura 1", *_DEEPGRAM, InputConvention.TEXT_JSON_AUDIO_BODY,
            rest=True, websocket=True, languages=("en",), price=Price(1363.64, "1k characters"),
            speakers=AURA_1_SPEAKERS, default_speaker="angus", max_text_chars=2000,
        ),
        SpeechModel(
            AURA_2_EN, Task.TTS, "Aura 2", *_DEEPGRAM, InputConvention.TEXT_JSON_AUDIO_BODY,
            rest=True, websocket=True, languages=("en",), price=Price(2727.27, "1k characters"),
            speakers=AURA_2_EN_SPEAKERS, default_speaker="luna", max_text_chars=1000,
        ),
        SpeechModel(
            AURA_2_ES, Task.TTS, "Aura 2", *_DEEPGRAM, InputConvention.TEXT_JSON_AUDIO_BODY,
            rest=True, websocket=True, languages=("es",), price=Price(2727.27, "1k characters"),
            speakers=AURA_2_ES_SPEAKERS, default_speaker="aquila", max_text_chars=1000,
        ),
        SpeechModel(
            MELOTTS, Task.TTS, "MeloTTS", *_MYSHELL, InputConvention.PROMPT_JSON_BASE64_MP3,
            rest=True, websocket=False, languages=MELOTTS_LANGUAGES,
            price=Price(18.63, "audio minute"), max_text_chars=600,
        ),
    )
}  # fmt: skip

STT_FALLBACK_MODEL = WHISPER_LARGE_V3_TURBO
"""The model for a language the default model lacks: the multilingual Whisper (99 languages,
https://developers.cloudflare.com/workers-ai/models/whisper-large-v3-turbo/)."""

ASR_MODELS: tuple[SpeechModel, ...] = tuple(m for m in MODELS.values() if m.task is Task.ASR)
TTS_MODELS: tuple[SpeechModel, ...] = tuple(m for m in MODELS.values() if m.task is Task.TTS)

# Aura WebSocket output constraints: raw linear16/mulaw/alaw, these rates, no container
# (https://developers.deepgram.com/docs/tts-media-output-settings).
AURA_WEBSOCKET_SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 24000, 32000, 48000)

AURA_WEBSOCKET_SAMPLE_RATE_HZ: int = 24000
"""The aura WebSocket's linear16 rate when none is asked for, in Hz
(https://developers.deepgram.com/docs/tts-media-output-settings); the rate of every TTS reply
in both deliverables."""

STT_SAMPLE_RATE_HZ: int = 16000
"""The rate of all audio sent to the speech-to-text models, in Hz: what Deepgram recommends for
linear16 (https://developers.cloudflare.com/workers-ai/models/flux/), what Whisper works at, and
what Home Assistant's Assist pipeline sends (assist_pipeline/const.py SAMPLE_RATE)."""


def get_model(model_id: str) -> SpeechModel:
    """Return the catalog entry for ``model_id``.

    Accepts the full ID (``@cf/deepgram/nova-3``) or its short name (``nova-3``).

    Raises:
        KeyError: the model is not a speech model of this catalog.
    """
    if model_id in MODELS:
        return MODELS[model_id]
    for model in MODELS.values():
        if model.short_name == model_id:
            return model
    raise KeyError(f"unknown Workers AI speech model: {model_id!r}")


@dataclass(frozen=True, slots=True)
class Voice:
    """One selectable TTS voice: a model plus a speaker (aura) or a language (melotts)."""

    model_id: str
    speaker: str | None
    language: str

    @property
    def name(self) -> str:
        """Stable unique voice name, e.g. ``aura-2-en-luna`` or ``melotts-fr``."""
        model = get_model(self.model_id)
        if self.speaker:
            return f"{model.short_name}-{self.speaker}"
        return f"{model.short_name}-{self.language}"

    @property
    def description(self) -> str:
        """Human description, e.g. ``Luna (Aura 2, English)``."""
        model = get_model(self.model_id)
        language = LANGUAGE_NAMES.get(self.language, self.language)
        if self.speaker:
            return f"{self.speaker.capitalize()} ({model.display_name}, {language})"
        return f"{model.display_name} {language}"


LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bo": "Tibetan",
    "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fo": "Faroese",
    "fr": "French", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa", "haw": "Hawaiian",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jw": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "la": "Latin", "lb": "Luxembourgish", "ln": "Lingala", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mi": "Maori", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese",
    "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk",
    "no": "Norwegian", "oc": "Occitan", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sd": "Sindhi",
    "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen",
    "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "yi": "Yiddish", "yo": "Yoruba", "yue": "Cantonese",
    "zh": "Chinese",
}  # fmt: skip
"""English names of the base languages of every catalog model (Whisper's list covers them;
https://github.com/openai/whisper/blob/main/whisper/tokenizer.py)."""


def voices() -> list[Voice]:
    """Every TTS voice of the catalog: each aura speaker, and each MeloTTS language."""
    result: list[Voice] = []
    for model in TTS_MODELS:
        if model.speakers:
            result.extend(Voice(model.model_id, s, model.languages[0]) for s in model.speakers)
        else:
            result.extend(Voice(model.model_id, None, lang) for lang in model.languages)
    return result


def get_voice(name: str) -> Voice:
    """Return the voice called ``name`` (see :attr:`Voice.name`).

    Raises:
        KeyError: no such voice.
    """
    for voice in voices():
        if voice.name == name:
            return voice
    raise KeyError(f"unknown voice: {name!r}")
