"""Response and report bodies of the JSON API (pydantic models, shown in the OpenAPI schema)."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

_B64 = r"^[A-Za-z0-9+/]*={0,2}$"
#: Pixel coordinates: finite and within what a 50-megapixel image can have (a 400-digit number is not one).
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)]
Probability = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=1.0)]


def _at_most(items, info: ValidationInfo, setting: str, what: str):
    """Refuse a list longer than the service's ``setting`` (passed as validation context) before validating it."""
    limit = (info.context or {}).get(setting)
    if limit is not None and isinstance(items, list) and len(items) > limit:
        raise ValueError(f"{len(items)} {what}, more than this service produces (setting {setting} = {limit})")
    return items


class ModelInfo(BaseModel):
    version: str = Field(description="the first 12 hex digits of the weights' SHA-256 (the model card's "
                                     "weights_sha256)")
    architecture: Optional[str] = None
    input_size: Optional[int] = None
    created: Optional[str] = None
    classes: list[str] = []


class Annotation(BaseModel):
    label: str = Field(description="class written in the uploaded LabelImg file")
    level: str = ""


class BoxResult(BaseModel):
    index: int = Field(description="1-based box number, in the order sent")
    box: list[Coordinate] = Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] pixel edges")
    annotation: Optional[Annotation] = None
    probabilities: dict[str, Probability]
    predicted: str
    heatmap_png: Optional[str] = Field(None, pattern=_B64, description="Grad-CAM overlay of the box, base64 PNG")
    crop_png: Optional[str] = Field(None, pattern=_B64, description="the box region without overlay, base64 PNG")
    refer: bool = Field(False, description="true: the model is not confident enough (below the referral "
                                           "threshold fitted on its validation split); a specialist should read it")
    refer_reason: str = Field("", max_length=600, description="why it answered or referred, in words")
    model: str = Field("image", max_length=40, description="which model answered: image or image+clinical")
    image_probabilities: dict[str, Probability] = Field(default_factory=dict, description="the image-only "
                                                        "model's probabilities for the same box")
    clinical_notes: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=20, description="clinical values that were missing or outside the "
                                                         "model's training range (treated as missing)")


class ClinicalUsed(BaseModel):
    age: Optional[Annotated[float, Field(allow_inf_nan=False, ge=0, le=130)]] = None
    sex: Optional[str] = Field(None, max_length=1)
    source: dict[str, str] = Field(default_factory=dict, description="per value: form, dicom header or missing")
    columns: list[str] = Field(default_factory=list, max_length=50, description="the clinical columns the model reads")
    used: bool = Field(False, description="whether the image+clinical model answered")


class ImageResult(BaseModel):
    index: int = Field(description="1-based image number, in the order sent")
    width: int
    height: int
    meta: dict[str, object] = Field(default_factory=dict, description="de-identified acquisition metadata")
    clinical: Optional[ClinicalUsed] = None
    boxes: list[BoxResult]

    @field_validator("boxes", mode="before")
    @classmethod
    def _bounded(cls, boxes, info: ValidationInfo):
        return _at_most(boxes, info, "max_boxes", "boxes")


class _Envelope(BaseModel):
    request_id: str = ""
    model: ModelInfo
    classes: list[str]
    limits: str = Field(description="what the model is for and where it is weak; show it with every answer")
    timing_ms: float = 0.0


class PredictResponse(_Envelope):
    image: ImageResult


class BatchResponse(_Envelope):
    images: list[ImageResult]


class ReportRequest(_Envelope):
    """A predict or batch response sent back to be rendered as CSV or a one-page HTML report."""

    model_config = ConfigDict(extra="ignore")
    image: Optional[ImageResult] = None
    images: Optional[list[ImageResult]] = None

    @field_validator("images", mode="before")
    @classmethod
    def _bounded(cls, images, info: ValidationInfo):
        return _at_most(images, info, "max_batch_images", "images")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.image is None) == (self.images is None):
            raise ValueError("send a predict response (with 'image') or a batch response (with 'images')")
        for image in self.all_images():
            for box in image.boxes:
                missing = [c for c in self.classes if c not in box.probabilities]
                if missing:
                    raise ValueError(f"image {image.index}, box {box.index}: no probability for class "
                                     f"'{missing[0]}' (classes: {', '.join(self.classes)})")
        return self

    def all_images(self) -> list[ImageResult]:
        return [self.image] if self.image is not None else list(self.images or [])


class Morphometry(BaseModel):
    level: str = Field(description="the level the heights were measured as")
    unit: str = Field(description="mm (the radiograph's PixelSpacing) or px")
    heights: list[Optional[float]] = Field(description="anterior, middle, posterior height")
    expected: list[Optional[float]] = Field(description="the same heights expected from the neighbours")
    reduction: list[Optional[float]] = Field(description="1 - measured / expected, per height")
    loss_mm: Optional[float] = Field(None, description="largest expected - measured height, mm")
    ratio_ap: Optional[float] = None
    ratio_mp: Optional[float] = None
    grade: Optional[int] = Field(None, description="Genant semi-quantitative grade 0-3 (None: not measurable)")
    shape: Optional[str] = Field(None, description="normal, wedge, biconcave or crush")
    included: Optional[bool] = Field(None, description="the study's inclusion rule: >= 20 % or >= 4 mm height loss")
    references: list[str] = Field(default_factory=list, description="the neighbours' levels")


class BodyProposal(BaseModel):
    index: int = Field(description="1-based, top to bottom")
    box: list[Coordinate] = Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] pixel edges")
    score: float = Field(description="the detector's score")
    level: str = Field(description="counted up from S1, or 'uncertain' (see level_reason)")
    level_counted: Optional[str] = None
    seen_level: Optional[str] = Field(None, description="the level the body looks like to the detector")
    level_reason: str = ""
    points: list[list[float]] = Field(description="six landmarks: upper anterior, middle, posterior; lower ...")
    morphometry: Morphometry
    proposed: bool = Field(description="meets the inclusion rule: preselected as a box to classify")


class ProposeResponse(BaseModel):
    request_id: str = ""
    width: int
    height: int
    found: int = Field(description="bodies the detector found (at most max_boxes are returned, highest scores)")
    bodies: list[BodyProposal]
    timing_ms: float = 0.0


class DisplayResponse(BaseModel):
    width: int
    height: int
    scale: float = Field(description="display PNG size / radiograph size; boxes are sent in radiograph pixels")
    meta: dict[str, object]
    clinical: dict[str, object] = Field(default_factory=dict, description="age and sex from the DICOM header "
                                        "(PatientAge, PatientSex) when present, to prefill the page's fields")
    png: str = Field(description="de-identified 8-bit display image, base64 PNG")


class AnnotationResponse(BaseModel):
    boxes: list[dict]
